import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Catalog, PolicyDef, ProfileDef, TargetDef, UserDef } from '../core/types.js';
import { demoConfigYaml } from '../cli/commands/demo.js';
import { ConfigError, defaultBrokerSettings, loadConfigFile, parseConfigText } from './load.js';

const example = `broker:                       # optional
  pendingTimeout: 24h
  revokeRetry: { initial: 1s, max: 1m }
  revokeConcurrency: 8
  reconcileInterval: 5m
targets:
  - name: pg-main
    kind: postgres
    host: 127.0.0.1
    port: 5432
    database: app
    sslmode: disable
    admin: { user: stint_admin, passwordEnv: PG_MAIN_ADMIN_PASSWORD }
profiles:
  - { name: pg-main-read, target: pg-main, mode: ephemeral-account, grants: [app_read], maxDuration: 1h, description: "..." }
  - { name: pg-main-dba,  target: pg-main, mode: own-account, grants: [app_admin], maxDuration: 30m, terminateSessionsOnRevoke: true }
policies:
  - { name: devs-read, subjects: { groups: [dev] }, profiles: [pg-main-read], approval: auto }
  - name: dba-elevation
    subjects: { groups: [dev], users: [carol] }
    profiles: ["pg-main-*"]
    maxDuration: 20m
    requireReason: true
    requireTicket: false
    pendingTimeout: 2h
    approval: { approvers: { groups: [dba] }, count: 1 }
  - { name: no-contractors, effect: deny, subjects: { groups: [contractors] }, profiles: ["*"] }
users:
  - { name: alice, groups: [dev], accounts: { pg-main: alice } }
  - { name: bob, groups: [dba], admin: false }
`;

/** A small valid config; tests append or replace lines to break one thing. */
const base = `targets:
  - name: pg-main
    kind: postgres
    host: db.internal
    port: 5432
    database: app
    admin: { user: stint_admin, passwordEnv: PG_PASSWORD }
profiles:
  - { name: pg-main-read, target: pg-main, mode: ephemeral-account, grants: [app_read], maxDuration: 1h }
policies:
  - { name: devs-read, subjects: { groups: [dev] }, profiles: [pg-main-read], approval: auto }
users:
  - { name: alice, groups: [dev] }
`;

function accounts(entries: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, entries);
}

/**
 * `stint.yaml:line:column` of the nth occurrence of `needle` in `text`, so
 * expectations say what they point at instead of hand-counted columns.
 */
function at(text: string, needle: string, nth = 1): string {
  let offset = -1;
  for (let i = 0; i < nth; i++) {
    offset = text.indexOf(needle, offset + 1);
    assert.ok(offset >= 0, `${needle} not found`);
  }
  const before = text.slice(0, offset).split('\n');
  return `stint.yaml:${before.length}:${before[before.length - 1]!.length + 1}`;
}

/** The formatted problems, one per line, or a failure if the text is accepted. */
function problems(text: string): string[] {
  try {
    parseConfigText(text, 'stint.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message.split('\n');
  }
  assert.fail('config was accepted');
}

describe('parseConfigText: valid config', () => {
  test('the full example parses to the exact catalog and broker settings', () => {
    const loaded = parseConfigText(example, 'stint.yaml');
    const target: TargetDef = {
      name: 'pg-main',
      kind: 'postgres',
      critical: false,
      settings: { host: '127.0.0.1', port: 5432, database: 'app', sslmode: 'disable' },
      adminUser: 'stint_admin',
      adminSecretSource: { env: 'PG_MAIN_ADMIN_PASSWORD' },
    };
    const read: ProfileDef = {
      name: 'pg-main-read',
      target: 'pg-main',
      mode: 'ephemeral-account',
      grants: ['app_read'],
      maxDurationMs: 3_600_000,
      terminateSessionsOnRevoke: false,
      description: '...',
      portForwarding: [],
      stepUpMs: null,
    };
    const dba: ProfileDef = {
      name: 'pg-main-dba',
      target: 'pg-main',
      mode: 'own-account',
      grants: ['app_admin'],
      maxDurationMs: 1_800_000,
      terminateSessionsOnRevoke: true,
      description: '',
      portForwarding: [],
      stepUpMs: null,
    };
    const policies: PolicyDef[] = [
      {
        name: 'devs-read',
        effect: 'allow',
        subjects: { users: [], groups: ['dev'] },
        profiles: ['pg-main-read'],
        maxDurationMs: null,
        requireReason: false,
        requireTicket: false,
        approval: { kind: 'auto' },
        pendingTimeoutMs: null,
      },
      {
        name: 'dba-elevation',
        effect: 'allow',
        subjects: { users: ['carol'], groups: ['dev'] },
        profiles: ['pg-main-*'],
        maxDurationMs: 1_200_000,
        requireReason: true,
        requireTicket: false,
        approval: { kind: 'approvers', users: [], groups: ['dba'], count: 1, stepUpMs: null },
        pendingTimeoutMs: 7_200_000,
      },
      {
        name: 'no-contractors',
        effect: 'deny',
        subjects: { users: [], groups: ['contractors'] },
        profiles: ['*'],
        maxDurationMs: null,
        requireReason: false,
        requireTicket: false,
        approval: { kind: 'auto' },
        pendingTimeoutMs: null,
      },
    ];
    const alice: UserDef = { name: 'alice', groups: ['dev'], accounts: accounts({ 'pg-main': 'alice' }), roles: [], admin: false };
    const bob: UserDef = { name: 'bob', groups: ['dba'], accounts: accounts({}), roles: [], admin: false };
    const expected: Catalog = {
      targets: new Map([['pg-main', target]]),
      profiles: new Map([
        ['pg-main-read', read],
        ['pg-main-dba', dba],
      ]),
      policies,
      users: new Map([
        ['alice', alice],
        ['bob', bob],
      ]),
      roles: {},
    };
    assert.deepStrictEqual(loaded.catalog, expected);
    assert.deepStrictEqual(loaded.broker, {
      pendingTimeoutMs: 86_400_000,
      revokeRetryInitialMs: 1000,
      revokeRetryMaxMs: 60_000,
      revokeConcurrency: 8,
      reconcileIntervalMs: 300_000,
      auditCheckpointEvents: 1000,
      auditCheckpointMs: 3_600_000,
      recordingRetentionMs: 90 * 86_400_000,
      webhooks: [],
    });
    assert.equal(loaded.file, 'stint.yaml');
  });

  test('omitted broker section and optional fields take their defaults', () => {
    const loaded = parseConfigText(base, 'stint.yaml');
    assert.deepStrictEqual(loaded.broker, defaultBrokerSettings);
    const t = loaded.catalog.targets.get('pg-main')!;
    assert.equal(t.critical, false);
    assert.deepStrictEqual(t.settings, { host: 'db.internal', port: 5432, database: 'app', sslmode: 'disable' });
    assert.deepStrictEqual(loaded.catalog.users.get('alice')!.accounts, accounts({}));
  });

  test('only one revokeRetry bound given: the other default yields to it', () => {
    const slow = parseConfigText(`broker: { revokeRetry: { initial: 2m } }\n${base}`, 'stint.yaml').broker;
    assert.equal(slow.revokeRetryInitialMs, 120_000);
    assert.equal(slow.revokeRetryMaxMs, 120_000);
    const fast = parseConfigText(`broker: { revokeRetry: { max: 500ms } }\n${base}`, 'stint.yaml').broker;
    assert.equal(fast.revokeRetryInitialMs, 500);
    assert.equal(fast.revokeRetryMaxMs, 500);
  });

  test('broker.recordings.retention sets how long recordings stay in the store; under an hour is refused', () => {
    assert.equal(parseConfigText(`broker: { recordings: { retention: 30d } }\n${base}`, 'stint.yaml').broker.recordingRetentionMs, 30 * 86_400_000);
    assert.match(
      problems(`broker: { recordings: { retention: 5m } }\n${base}`).join('\n'),
      /broker\.recordings\.retention.*shorter than the smallest allowed here \(3600s\)/,
    );
    assert.match(problems(`broker: { recordings: { keep: 5m } }\n${base}`).join('\n'), /broker\.recordings.*keep/);
  });

  test('relative passwordFile resolves against the config file directory', () => {
    const text = base.replace('passwordEnv: PG_PASSWORD', 'passwordFile: secrets/pg.pw');
    const t = parseConfigText(text, '/etc/stint/stint.yaml').catalog.targets.get('pg-main')!;
    assert.deepStrictEqual(t.adminSecretSource, { file: '/etc/stint/secrets/pg.pw' });
  });

  test('a target named like an Object.prototype member is not found in accounts by accident', () => {
    const text = base.replaceAll('pg-main', 'constructor');
    const user = parseConfigText(text, 'stint.yaml').catalog.users.get('alice')!;
    assert.equal(user.accounts['constructor'], undefined);
  });

  test('roles come from groups (roles:) and from admin: true; service users are marked', () => {
    const text =
      `${base}  - { name: root, groups: [platform] }\n  - { name: sec, groups: [security, dev] }\n  - { name: old, admin: true }\n  - { name: ci, service: true }\n` +
      'roles:\n  admin: { groups: [platform] }\n  auditor: { groups: [security] }\n';
    const c = parseConfigText(text, 'stint.yaml').catalog;
    assert.deepStrictEqual(c.roles, { admin: { groups: ['platform'] }, auditor: { groups: ['security'] } });
    const view = (n: string) => {
      const u = c.users.get(n)!;
      return { roles: u.roles, admin: u.admin, service: u.service ?? false };
    };
    assert.deepStrictEqual(view('root'), { roles: ['admin'], admin: true, service: false });
    assert.deepStrictEqual(view('sec'), { roles: ['auditor'], admin: false, service: false });
    assert.deepStrictEqual(view('old'), { roles: ['admin'], admin: true, service: false });
    assert.deepStrictEqual(view('ci'), { roles: [], admin: false, service: true });
    assert.deepStrictEqual(view('alice'), { roles: [], admin: false, service: false });
    const bad = `${base}roles:\n  auditor: { groups: [] }\n  owner: { groups: [x] }\n`;
    assert.deepStrictEqual(problems(bad), [
      `${at(bad, '[]')}: roles.auditor.groups: must list at least one group`,
      `${at(bad, 'owner')}: roles.owner: unknown field "owner"; known fields: admin, auditor`,
    ]);
  });

  test('breakGlass on a profile: its groups, even on a critical target; at least one group', () => {
    const text = base
      .replace('passwordEnv: PG_PASSWORD }', 'passwordEnv: PG_PASSWORD }\n    critical: true')
      .replace('approval: auto }', 'approval: { approvers: { groups: [dba] } } }')
      .replace('maxDuration: 1h }', 'maxDuration: 1h, breakGlass: { groups: [oncall, dba] } }');
    assert.deepStrictEqual(parseConfigText(text, 'stint.yaml').catalog.profiles.get('pg-main-read')!.breakGlass, { groups: ['oncall', 'dba'] });
    assert.equal(parseConfigText(base, 'stint.yaml').catalog.profiles.get('pg-main-read')!.breakGlass, undefined);
    const bad = base.replace('maxDuration: 1h }', 'maxDuration: 1h, breakGlass: { groups: [] } }');
    assert.deepStrictEqual(problems(bad), [`${at(bad, '[] }')}: profiles[0].breakGlass.groups: must list at least one group`]);
  });

  test('ownAccount on a target: only {username}, and a form the kind accepts', () => {
    const withTemplate = (t: string) => base.replace('passwordEnv: PG_PASSWORD }', `passwordEnv: PG_PASSWORD }\n    ownAccount: ${JSON.stringify(t)}`);
    assert.equal(parseConfigText(withTemplate('{username}_rw'), 'stint.yaml').catalog.targets.get('pg-main')!.ownAccount, '{username}_rw');
    assert.equal(parseConfigText(base, 'stint.yaml').catalog.targets.get('pg-main')!.ownAccount, undefined);
    const shared = withTemplate('dba');
    assert.deepStrictEqual(problems(shared), [
      `${at(shared, '"dba"')}: targets[0].ownAccount: "dba" must contain {username}, which becomes the person's Stint name (a fixed name would be one account shared by everyone)`,
    ]);
    const other = withTemplate('{username}-{team}');
    assert.deepStrictEqual(
      problems(other).map((l) => l.split(': ').slice(1).join(': ')),
      ['targets[0].ownAccount: "{username}-{team}" may use only the placeholder {username}; remove the other { or }'],
    );
    const long = withTemplate(`{username}_${'x'.repeat(60)}`);
    assert.deepStrictEqual(
      problems(long).map((l) => l.split(': ').slice(1, 2).join('')),
      ['targets[0].ownAccount'],
    );
    assert.match(problems(long)[0]!, /gives "alice_x+…" \(66 characters\) for a user named alice, which is not a valid postgres account: longer than 63 bytes/);
  });

  test('small aliases for shared lists are allowed', () => {
    const text = `${base.replace('groups: [dev] }, profiles', 'groups: &devs [dev] }, profiles')}  - { name: bob, groups: *devs }\n`;
    assert.deepStrictEqual(parseConfigText(text, 'stint.yaml').catalog.users.get('bob')!.groups, ['dev']);
  });
});

describe('parseConfigText: each problem names file:line:column, path and what is wrong', () => {
  test('malformed YAML', () => {
    assert.deepStrictEqual(problems('targets: [1,\nprofiles: x\n'), [
      'stint.yaml:2:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  test('bad indentation points at the line', () => {
    assert.deepStrictEqual(
      problems('targets:\n  - name: a\n   kind: postgres\n').map((l) => l.split(': ')[0]),
      ['stint.yaml:3:1'],
    );
  });

  test('unknown key, with a suggestion and the known fields', () => {
    const text = base.replace('maxDuration: 1h }', 'maxDuration: 1h, maxDuraton: 2h }');
    assert.deepStrictEqual(problems(text), [
      `${at(text, 'maxDuraton')}: profiles[0].maxDuraton: unknown field "maxDuraton" (did you mean "maxDuration"?); ` +
        'known fields: name, target, mode, grants, maxDuration, terminateSessionsOnRevoke, description, portForwarding, stepUp, breakGlass, allowAdminRole, gatewaySessions, allowBuiltinPrivileged',
    ]);
    assert.equal(at(text, 'maxDuraton'), 'stint.yaml:9:106');
  });

  test('unknown top-level section', () => {
    assert.deepStrictEqual(problems(`${base}polices: []\n`), [
      'stint.yaml:14:1: polices: unknown field "polices" (did you mean "policies"?); known fields: identity, broker, gateways, targets, profiles, policies, users, roles, notifications',
    ]);
  });

  test('profile on an unknown target', () => {
    const text = base.replace('target: pg-main,', 'target: pg-mian,');
    assert.deepStrictEqual(problems(text), [`${at(text, 'pg-mian')}: profiles[0].target: unknown target "pg-mian"; defined targets: pg-main`]);
  });

  test('bad duration', () => {
    const text =
      `${base.replace('profiles:\n', 'profiles:\n  - { name: pg-main-x, target: pg-main, mode: own-account, grants: [a], maxDuration: 1h }\n')}`.replace(
        'grants: [app_read], maxDuration: 1h',
        'grants: [app_read], maxDuration: 90x',
      );
    assert.deepStrictEqual(problems(text), ['stint.yaml:10:102: profiles[1].maxDuration: "90x" is not a duration; write it like 90s, 30m, 1h or 1h30m']);
    assert.equal(at(text, '90x'), 'stint.yaml:10:102');
  });

  for (const [value, message] of [
    ['0s', 'duration "0s" must be greater than zero'],
    ['0h0m', 'duration "0h0m" must be greater than zero'],
    ['-1h', '"-1h" is not a duration; write it like 90s, 30m, 1h or 1h30m'],
    ['90', '"90" is not a duration; write it like 90s, 30m, 1h or 1h30m'],
    ['1.5h', '"1.5h" is not a duration; write it like 90s, 30m, 1h or 1h30m'],
    ['9999d', 'duration "9999d" is longer than the largest allowed (366d)'],
    ['99999999999999999999d', 'duration "99999999999999999999d" is longer than the largest allowed (366d)'],
    ['9007199254740993ms', 'duration "9007199254740993ms" is longer than the largest allowed (366d)'],
    ['500ms', 'duration "500ms" is shorter than the smallest allowed here (1s)'],
    ['"1h "', null],
    ['"1h\\0\\"; x"', '"1h\\u0000\\"; x" is not a duration; write it like 90s, 30m, 1h or 1h30m'],
  ] as const) {
    test(`duration ${value}`, () => {
      const text = base.replace('maxDuration: 1h', `maxDuration: ${value}`);
      if (message === null) {
        assert.equal(parseConfigText(text, 'stint.yaml').catalog.profiles.get('pg-main-read')!.maxDurationMs, 3_600_000);
        return;
      }
      assert.deepStrictEqual(problems(text), [`${at(text, value)}: profiles[0].maxDuration: ${message}`]);
    });
  }

  test('revoke retry max above an hour, and initial above max', () => {
    const inverted = `broker:\n  revokeRetry: { initial: 2m, max: 1m }\n${base}`;
    assert.deepStrictEqual(problems(inverted), [`${at(inverted, '2m')}: broker.revokeRetry.initial: must not be longer than max`]);
    const long = `broker:\n  revokeRetry: { max: 2h }\n${base}`;
    assert.deepStrictEqual(problems(long), [`${at(long, '2h')}: broker.revokeRetry.max: duration "2h" is longer than the largest allowed here (60m)`]);
  });

  const hostileNames: [string, string, string][] = [
    ['quote and semicolon', '"x\\"; DROP ROLE admin; --"', '"x\\"; DROP ROLE admin; --"'],
    ['semicolon', 'a;b', '"a;b"'],
    ['NUL', '"al\\0ice"', '"al\\u0000ice"'],
    ['space', '"al ice"', '"al ice"'],
    ['newline', '"alice\\n"', '"alice\\u000a"'],
    ['bidi override', '"al\\u202Eice"', '"al\\u202eice"'],
    ['tag character', '"al\\U000E0041ice"', '"al\\u{e0041}ice"'],
    ['200 unicode chars', 'é'.repeat(200), `"${'é'.repeat(40)}…" (200 characters)`],
    ['64 chars', `a${'b'.repeat(63)}`, `"${'a' + 'b'.repeat(39)}…" (64 characters)`],
    ['leading digit', '1alice', '"1alice"'],
  ];
  for (const [label, yamlValue, shown] of hostileNames) {
    test(`user name with ${label} is rejected and shown escaped`, () => {
      const text = base.replace('{ name: alice, groups: [dev] }', `{ name: ${yamlValue}, groups: [dev] }`);
      assert.deepStrictEqual(problems(text), [
        `stint.yaml:13:13: users[0].name: ${shown} is not a valid user name: start with a letter, then use only letters, digits, _ . - (at most 63 characters)`,
      ]);
    });
  }

  test('group, target and policy names are checked the same way', () => {
    const text = base.replace('groups: [dev] }\n', 'groups: ["d\'ev"] }\n').replace('{ name: devs-read,', '{ name: "devs read",');
    assert.deepStrictEqual(problems(text), [
      `${at(text, '"devs read"')}: policies[0].name: "devs read" is not a valid policy name: start with a letter, then use only letters, digits, _ . - (at most 63 characters)`,
      `${at(text, '"d\'ev"')}: users[0].groups[0]: "d'ev" is not a valid group name: start with a letter, then use only letters, digits, _ . - (at most 63 characters)`,
    ]);
  });

  test("grants: NUL and more than 63 bytes are rejected; other characters are the connector's to quote", () => {
    const ok = parseConfigText(base.replace('grants: [app_read]', 'grants: ["App Read; x"]'), 'stint.yaml');
    assert.deepStrictEqual(ok.catalog.profiles.get('pg-main-read')!.grants, ['App Read; x']);
    const text = base.replace('grants: [app_read]', `grants: ["a\\0b", ${'ä'.repeat(32)}]`);
    assert.deepStrictEqual(problems(text), [
      `${at(text, '"a\\0b"')}: profiles[0].grants[0]: grant "a\\u0000b" contains a NUL or line break`,
      `${at(text, 'ää')}: profiles[0].grants[1]: "${'ä'.repeat(32)}" is not a valid postgres grant: longer than 63 bytes (PostgreSQL's identifier limit)`,
    ]);
  });

  test('duplicate names, exact and differing only by case', () => {
    const text = `${base}  - { name: bob }\n  - { name: alice }\n  - { name: Bob }\n`;
    assert.deepStrictEqual(problems(text), [
      `${at(text, 'alice', 2)}: users[2].name: duplicate user name "alice" (first defined on line 13)`,
      `${at(text, 'Bob')}: users[3].name: user name "Bob" differs only by case from "bob" (line 14)`,
    ]);
  });

  test('duplicate target and profile names', () => {
    const text = base
      .replace('profiles:\n', 'profiles:\n  - { name: pg-main-read, target: pg-main, mode: own-account, grants: [b], maxDuration: 1h }\n')
      .replace(
        'profiles:\n',
        `  - name: pg-main\n    kind: postgres\n    host: h\n    port: 1\n    database: d\n    admin: { user: u, passwordEnv: E }\nprofiles:\n`,
      );
    assert.deepStrictEqual(problems(text), [
      'stint.yaml:8:11: targets[1].name: duplicate target name "pg-main" (first defined on line 2)',
      'stint.yaml:16:13: profiles[1].name: duplicate profile name "pg-main-read" (first defined on line 15)',
    ]);
  });

  test('duplicate YAML keys', () => {
    const text = base.replace('    port: 5432\n', '    port: 5432\n    port: 5433\n');
    assert.deepStrictEqual(problems(text), ['stint.yaml:6:5: duplicate key "port"']);
  });

  test('missing admin secret source', () => {
    const text = base.replace('admin: { user: stint_admin, passwordEnv: PG_PASSWORD }', 'admin: { user: stint_admin }');
    assert.deepStrictEqual(problems(text), [
      'stint.yaml:7:12: targets[0].admin: give the admin secret source: passwordEnv (an environment variable) or passwordFile',
    ]);
  });

  test('both passwordEnv and passwordFile', () => {
    const text = base.replace('passwordEnv: PG_PASSWORD', 'passwordEnv: PG_PASSWORD, passwordFile: /run/pg.pw');
    assert.deepStrictEqual(problems(text), [`${at(text, '/run/pg.pw')}: targets[0].admin.passwordFile: give passwordEnv or passwordFile, not both`]);
  });

  test('passwordEnv that is not a variable name, and a missing admin user, reported together', () => {
    const text = base.replace('admin: { user: stint_admin, passwordEnv: PG_PASSWORD }', 'admin: { passwordEnv: "PG PASSWORD" }');
    assert.deepStrictEqual(problems(text), [
      'stint.yaml:7:12: targets[0].admin.user: is required',
      'stint.yaml:7:27: targets[0].admin.passwordEnv: "PG PASSWORD" is not an environment variable name',
    ]);
  });

  test('policy pattern matching no profile, and an unknown profile name', () => {
    const text = base.replace('profiles: [pg-main-read]', 'profiles: [pg-main-red, "mysql-*"]');
    assert.deepStrictEqual(problems(text), [
      `${at(text, 'pg-main-red')}: policies[0].profiles[0]: unknown profile "pg-main-red"; defined profiles: pg-main-read`,
      `${at(text, '"mysql-*"')}: policies[0].profiles[1]: pattern "mysql-*" matches no profile; defined profiles: pg-main-read`,
    ]);
  });

  test('unknown target kind', () => {
    const text = base.replace('kind: postgres', 'kind: oracle');
    assert.deepStrictEqual(problems(text), [
      'stint.yaml:3:11: targets[0].kind: "oracle" is not a known kind; one of: postgres, mysql, redis, ssh, ldap, script, keystone, ad',
    ]);
  });

  test('port out of range and of the wrong type', () => {
    assert.deepStrictEqual(problems(base.replace('port: 5432', 'port: 0')), ['stint.yaml:5:11: targets[0].port: must be at least 1']);
    assert.deepStrictEqual(problems(base.replace('port: 5432', 'port: 65536')), ['stint.yaml:5:11: targets[0].port: must be at most 65535']);
    assert.deepStrictEqual(problems(base.replace('port: 5432', 'port: "5432"')), ['stint.yaml:5:11: targets[0].port: must be a number, got the text "5432"']);
  });

  test('invalid mode and sslmode', () => {
    const text = base.replace('mode: ephemeral-account', 'mode: ephemeral').replace('database: app', 'database: app\n    sslmode: verify-full');
    assert.deepStrictEqual(problems(text), [
      'stint.yaml:7:14: targets[0].sslmode: must be disable or require, not "verify-full"',
      'stint.yaml:10:50: profiles[0].mode: must be ephemeral-account or own-account, not "ephemeral"',
    ]);
  });

  test('ephemeral profile cannot opt out of session termination', () => {
    const text = base.replace('maxDuration: 1h }', 'maxDuration: 1h, terminateSessionsOnRevoke: false }');
    assert.deepStrictEqual(problems(text), [
      'stint.yaml:9:133: profiles[0].terminateSessionsOnRevoke: ephemeral accounts always have their sessions terminated on revoke; remove terminateSessionsOnRevoke',
    ]);
  });

  test('approval: required on allow, rejected on deny, count 1..10, not a typo of auto', () => {
    const text = `${base.replace(
      'policies:\n',
      `policies:
  - { name: p1, subjects: { users: [alice] }, profiles: ["*"] }
  - { name: p2, effect: deny, subjects: { users: [alice] }, profiles: ["*"], approval: auto, maxDuration: 1h }
  - { name: p3, subjects: { users: [alice] }, profiles: ["*"], approval: { approvers: { groups: [dba] }, count: 0 } }
  - { name: p4, subjects: { users: [alice] }, profiles: ["*"], approval: { approvers: { groups: [dba] }, count: 11 } }
  - { name: p5, subjects: { users: [alice] }, profiles: ["*"], approval: aut }
  - { name: p6, subjects: { users: [alice] }, profiles: ["*"], approval: { approvers: {}, count: 1 } }
  - { name: p7, subjects: {}, profiles: ["*"], approval: auto }
`,
    )}`;
    assert.deepStrictEqual(problems(text), [
      'stint.yaml:11:5: policies[0].approval: allow policies need approval: write `approval: auto` or `approval: { approvers: { groups: [...] }, count: 1 }`',
      'stint.yaml:12:88: policies[1].approval: deny policies take no approval; remove it',
      'stint.yaml:12:107: policies[1].maxDuration: deny policies take no maxDuration; remove it',
      `${at(text, '0 }')}: policies[2].approval.count: must be at least 1`,
      `${at(text, '11 }')}: policies[3].approval.count: must be at most 10`,
      'stint.yaml:15:74: policies[4].approval: must be auto or { approvers: { users, groups }, count }, not "aut"',
      `${at(text, '{}, count')}: policies[5].approval.approvers: name at least one approving user or group`,
      'stint.yaml:17:27: policies[6].subjects: name at least one user or group',
    ]);
  });

  test('a policy approving automatically a profile on a critical target points at its approval', () => {
    const critical = base.replace('passwordEnv: PG_PASSWORD }', 'passwordEnv: PG_PASSWORD }\n    critical: true');
    assert.deepStrictEqual(problems(critical), [
      `${at(critical, 'auto }')}: policies[0].approval: policy devs-read approves automatically a profile on a critical target: pg-main-read (target pg-main); ` +
        'critical targets need approvers: write `approval: { approvers: { groups: [...] }, count: 1 }`, or take these profiles out of this policy',
    ]);
    // A glob reaches it too; the block form points at the approval line itself.
    const reviewed = critical.replace('profiles: [pg-main-read], approval: auto }', 'profiles: [pg-main-read], approval: { approvers: { groups: [dba] } } }');
    const blockForm = reviewed.replace(
      '  - { name: devs-read',
      '  - name: everything\n    subjects: { groups: [ops] }\n    profiles: ["pg-*"]\n    approval: auto\n  - { name: devs-read',
    );
    assert.deepStrictEqual(
      problems(blockForm).map((l) => l.split(': policy ')[0]),
      [`${at(blockForm, 'auto\n')}: policies[0].approval`],
    );
    assert.equal(at(blockForm, 'auto\n'), 'stint.yaml:15:15');
    // Approvers, a deny policy, or a target that is not critical: accepted.
    parseConfigText(reviewed, 'stint.yaml');
    parseConfigText(`${critical.replace('approval: auto }', 'approval: { approvers: { users: [bob] } } }')}  - { name: bob }\n`, 'stint.yaml');
    parseConfigText(critical.replace('approval: auto }', 'effect: deny }'), 'stint.yaml');
    parseConfigText(base, 'stint.yaml');
  });

  test('accounts on an unknown target point at the key', () => {
    const text = base.replace('{ name: alice, groups: [dev] }', '{ name: alice, groups: [dev], accounts: { pg-main: alice, pg-old: al } }');
    assert.deepStrictEqual(problems(text), [`${at(text, 'pg-old')}: users[0].accounts.pg-old: account on unknown target "pg-old"; defined targets: pg-main`]);
  });

  test('a required field that is missing points at its parent', () => {
    const text = base.replace('    database: app\n', '');
    assert.deepStrictEqual(problems(text), ['stint.yaml:2:5: targets[0].database: is required']);
  });

  test('an empty value is reported as such', () => {
    assert.deepStrictEqual(problems(base.replace('host: db.internal', 'host:')), ['stint.yaml:4:5: targets[0].host: must be text, got an empty value']);
  });

  test('alias bombs are refused', () => {
    const refs = Array.from({ length: 12 }, () => '*a').join(', ');
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${refs.replaceAll('*a', '*a')}]\nc: &c [${refs.replaceAll('*a', '*b')}]\nd: [${refs.replaceAll('*a', '*c')}]\n`;
    const [line, ...rest] = problems(bomb);
    assert.equal(rest.length, 0);
    assert.match(line!, /^stint\.yaml:2:8: too many alias \(\*name\) expansions; at most 100 are allowed/);
  });

  test('empty file, a list at the top, several documents, unknown tags', () => {
    assert.deepStrictEqual(problems(''), ['stint.yaml:1:1: the file is empty; expected a mapping with targets, profiles, policies and users']);
    assert.deepStrictEqual(problems('- a\n'), ['stint.yaml:1:1: must be a mapping (key: value), got a list']);
    assert.deepStrictEqual(problems('users: []\n---\nusers: []\n'), [
      'stint.yaml:2:1: the file holds more than one YAML document (---); put all settings in one',
    ]);
    assert.deepStrictEqual(problems(base.replace('host: db.internal', 'host: !secret db')), ['stint.yaml:4:11: Unresolved tag: !secret']);
  });

  test('many problems in one file are reported together, in file order', () => {
    const text = base
      .replace('port: 5432', 'port: 99999')
      .replace('target: pg-main,', 'target: nowhere,')
      .replace('maxDuration: 1h', 'maxDuration: 1y')
      .replace('approval: auto', 'approval: auto, colour: blue')
      .replace('{ name: alice, groups: [dev] }', '{ name: "al;ice", groups: [dev] }');
    let error: unknown;
    try {
      parseConfigText(text, 'conf/stint.yaml');
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    assert.deepStrictEqual(error.issues, [
      { file: 'conf/stint.yaml', line: 5, column: 11, path: 'targets[0].port', message: 'must be at most 65535' },
      { file: 'conf/stint.yaml', line: 9, column: 35, path: 'profiles[0].target', message: 'unknown target "nowhere"; defined targets: pg-main' },
      {
        file: 'conf/stint.yaml',
        line: 9,
        column: 102,
        path: 'profiles[0].maxDuration',
        message: '"1y" is not a duration; write it like 90s, 30m, 1h or 1h30m',
      },
      {
        file: 'conf/stint.yaml',
        line: 11,
        column: 95,
        path: 'policies[0].colour',
        message: 'unknown field "colour"; known fields: name, effect, subjects, profiles, maxDuration, requireReason, requireTicket, pendingTimeout, approval',
      },
      {
        file: 'conf/stint.yaml',
        line: 13,
        column: 13,
        path: 'users[0].name',
        message: '"al;ice" is not a valid user name: start with a letter, then use only letters, digits, _ . - (at most 63 characters)',
      },
    ]);
    assert.equal(error.message.split('\n').length, 5);
    assert.ok(error.message.startsWith('conf/stint.yaml:5:11: targets[0].port: must be at most 65535\n'));
  });
});

describe('loadConfigFile', () => {
  test('reads a file and names it in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stint-config-'));
    try {
      const good = join(dir, 'good.yaml');
      await writeFile(good, base);
      const loaded = await loadConfigFile(good);
      assert.equal(loaded.file, good);
      assert.deepStrictEqual([...loaded.catalog.profiles.keys()], ['pg-main-read']);

      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, base.replace('maxDuration: 1h', 'maxDuration: 90x'));
      await assert.rejects(loadConfigFile(bad), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, `${bad}:9:102: profiles[0].maxDuration: "90x" is not a duration; write it like 90s, 30m, 1h or 1h30m`);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a missing file is a ConfigError naming the file', async () => {
    await assert.rejects(loadConfigFile('/nonexistent/stint.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, '/nonexistent/stint.yaml: file not found');
      assert.deepStrictEqual(err.issues, [{ file: '/nonexistent/stint.yaml', line: 0, column: 0, path: '', message: 'file not found' }]);
      return true;
    });
  });
});

test('a file with very many problems keeps them all in .issues and caps the message', () => {
  const users = Array.from({ length: 150 }, (_, i) => `  - { name: "bad user ${i}" }`).join('\n');
  try {
    parseConfigText(`users:\n${users}\n`, 'stint.yaml');
    assert.fail('accepted');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.issues.length, 150);
    const lines = err.message.split('\n');
    assert.equal(lines.length, 101);
    assert.equal(lines[100], '… and 50 more problems');
  }
});

test('the demo config loads (its target is not critical: its read profile is approved automatically)', () => {
  const loaded = parseConfigText(demoConfigYaml(5432, '/tmp/pw'), 'demo.yaml');
  assert.equal(loaded.catalog.targets.get('pg-main')!.critical, false);
});
