// Every target kind is reachable from the config file: its fields parse, its
// grants and accounts are checked by the kind, and mistakes point at the line.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from './load.js';

const all = `
targets:
  - { name: pg, kind: postgres, host: 127.0.0.1, port: 5432, database: app, admin: { user: stint_admin, passwordEnv: PG } }
  - { name: db, kind: mysql, host: 127.0.0.1, port: 3306, admin: { user: stint_admin, passwordEnv: MY } }
  - { name: cache, kind: redis, host: 127.0.0.1, port: 6379, admin: { user: stint-admin, passwordEnv: RD } }
  - name: host
    kind: ssh
    host: 127.0.0.1
    port: 22
    hostKeySha256: "SHA256:${'A'.repeat(43)}"
    uidMin: 60000
    uidMax: 60999
    admin: { user: stintop, passwordFile: /etc/stint/operator.key }
  - { name: dir, kind: ldap, url: "ldap://127.0.0.1:389", baseDN: "dc=example,dc=com", ephemeralOU: "ou=stint,dc=example,dc=com", admin: { user: "cn=stint,ou=services,dc=example,dc=com", passwordEnv: LD } }
  - name: plc
    kind: script
    commands:
      create: [/opt/stint/plc-admin, create]
      remove: [/opt/stint/plc-admin, remove]
      grant: [/opt/stint/plc-admin, grant]
      revoke: [/opt/stint/plc-admin, revoke]
      list: [/opt/stint/plc-admin, list]
      health: [/opt/stint/plc-admin, health]
    timeout: 20s
    admin: { user: plc-admin, passwordEnv: PLC }
profiles:
  - { name: pg-read, target: pg, mode: ephemeral-account, grants: [app_read], maxDuration: 1h }
  - { name: db-read, target: db, mode: ephemeral-account, grants: ["SELECT ON app.*"], maxDuration: 1h }
  - { name: cache-read, target: cache, mode: ephemeral-account, grants: ["~app:*", "+@read"], maxDuration: 1h }
  - { name: host-deploy, target: host, mode: ephemeral-account, grants: ["group:deploy"], maxDuration: 1h }
  - { name: dir-admins, target: dir, mode: own-account, grants: ["cn=admins,ou=groups,dc=example,dc=com"], maxDuration: 1h }
  - { name: plc-operate, target: plc, mode: ephemeral-account, grants: [operator], maxDuration: 1h }
policies:
  - { name: all, subjects: { groups: [ops] }, profiles: ["*"], approval: auto }
users:
  - { name: alice, groups: [ops], accounts: { dir: "uid=alice,ou=people,dc=example,dc=com", host: alice, db: "alice@%" } }
`;

describe('config: every target kind', () => {
  it('parses a target of each kind with its own settings', () => {
    const { catalog } = parseConfigText(all, 'stint.yaml');
    assert.deepEqual(
      [...catalog.targets.values()].map((t) => t.kind),
      ['postgres', 'mysql', 'redis', 'ssh', 'ldap', 'script'],
    );
    assert.equal(catalog.targets.get('host')!.settings.uidMin, 60000);
    assert.equal(catalog.targets.get('plc')!.settings.timeout, 20_000);
    assert.deepEqual(catalog.profiles.get('cache-read')!.grants, ['~app:*', '+@read']);
  });

  it('each kind checks its own grants and accounts, pointing at the line', () => {
    const bad = all
      .replace('grants: ["~app:*", "+@read"]', 'grants: ["~app:*", "nopass"]')
      .replace('grants: ["SELECT ON app.*"]', 'grants: ["ALL ON *.*"]')
      .replace('host: alice,', 'host: "alice; rm -rf /",');
    assert.throws(
      () => parseConfigText(bad, 'stint.yaml'),
      (err: ConfigError) => {
        const text = err.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`).join('\n');
        assert.match(text, /profiles\[1\]\.grants\[0\]: "ALL ON \*\.\*" is not a valid mysql grant/);
        assert.match(text, /profiles\[2\]\.grants\[1\]: "nopass" is not a valid redis grant/);
        assert.match(text, /users\[0\]\.accounts\.host: "alice; rm -rf \/" is not a valid ssh account/);
        return true;
      },
    );
  });

  it('the user name admin is reserved for the built-in administrator', () => {
    assert.throws(() => parseConfigText(`${all}  - { name: admin, groups: [ops] }\n`, 'stint.yaml'), /users\[1\]\.name: "admin" is reserved/);
  });

  it('kind-specific fields are validated like any other', () => {
    const bad = all.replace('uidMin: 60000', 'uidMin: 5').replace('timeout: 20s', 'timeout: forever');
    assert.throws(
      () => parseConfigText(bad, 'stint.yaml'),
      (err: ConfigError) => {
        const paths = err.issues.map((i) => i.path);
        assert.ok(paths.includes('targets[3].uidMin'), paths.join(', '));
        assert.ok(paths.includes('targets[5].timeout'), paths.join(', '));
        return true;
      },
    );
  });
});

describe('config: SSH gateway', () => {
  const withGateway = (extra: string) =>
    `gateways:\n  ssh: { listen: "0.0.0.0:2222", hostKeyFile: keys/host_key, maxSession: 2h }\n${all.replace(
      '{ name: host-deploy, target: host, mode: ephemeral-account, grants: ["group:deploy"], maxDuration: 1h }',
      `{ name: host-deploy, target: host, mode: ephemeral-account, grants: ["group:deploy"], maxDuration: 1h${extra} }`,
    )}`;

  it("gateways.ssh and a profile's portForwarding parse; relative host key paths are resolved against the config file", () => {
    const cfg = parseConfigText(withGateway(', portForwarding: ["DB.internal:5432", "127.0.0.1:*", "[::1]:8080"]'), '/etc/stint/stint.yaml');
    assert.deepEqual(cfg.gateways.ssh, {
      listen: { host: '0.0.0.0', port: 2222 },
      hostKeyFile: '/etc/stint/keys/host_key',
      maxSessionMs: 2 * 3_600_000,
      algorithms: {},
    });
    assert.equal(cfg.gateways.postgres, null);
    assert.deepEqual(cfg.catalog.profiles.get('host-deploy')!.portForwarding, ['db.internal:5432', '127.0.0.1:*', '[::1]:8080']);
    assert.deepEqual(cfg.catalog.profiles.get('pg-read')!.portForwarding, [], 'no forwarding unless a profile lists it');
  });

  it('a forwarding destination must be HOST:PORT or HOST:*, on an ssh ephemeral-account profile only', () => {
    assert.throws(
      () =>
        parseConfigText(
          withGateway(', portForwarding: ["db.internal", "*:22", "db:99999", "a b:1", "010.0.0.5:22", "2130706433:80", "0x7f000001:80"]'),
          'stint.yaml',
        ),
      (err: ConfigError) => {
        const text = err.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
        for (const j of [0, 1, 2, 3]) assert.match(text, new RegExp(`profiles\\[3\\]\\.portForwarding\\[${j}\\]: .* is not a forwarding destination`));
        for (const j of [4, 5]) assert.match(text, new RegExp(`profiles\\[3\\]\\.portForwarding\\[${j}\\]: .* is a numeric host but not a dotted-quad`));
        assert.match(text, /profiles\[3\]\.portForwarding\[6\]: .* hexadecimal/);
        return true;
      },
    );
    const onPg = all.replace('grants: [app_read], maxDuration: 1h }', 'grants: [app_read], maxDuration: 1h, portForwarding: ["db:5432"] }');
    assert.throws(
      () => parseConfigText(onPg, 'stint.yaml'),
      /profiles\[0\]\.portForwarding: portForwarding applies to the SSH gateway, and "pg" is a postgres target/,
    );
  });

  it('gateways.ssh.algorithms takes safe algorithms only, each refusal naming the entry, why and the choices', () => {
    const gw = (a: string) => `gateways:\n  ssh: { listen: "127.0.0.1:2222", algorithms: ${a} }\n${all}`;
    const ok = parseConfigText(
      gw('{ kex: [curve25519-sha256], cipher: [aes256-gcm@openssh.com, aes256-ctr], mac: [hmac-sha2-512-etm@openssh.com], compress: [none] }'),
      'stint.yaml',
    );
    assert.deepEqual(ok.gateways.ssh!.algorithms, {
      kex: ['curve25519-sha256'],
      cipher: ['aes256-gcm@openssh.com', 'aes256-ctr'],
      mac: ['hmac-sha2-512-etm@openssh.com'],
      compress: ['none'],
    });
    assert.deepEqual(parseConfigText(gw('{ cipher: [chacha20-poly1305@openssh.com] }'), 'stint.yaml').gateways.ssh!.algorithms, {
      cipher: ['chacha20-poly1305@openssh.com'],
    });
    const bad =
      '{ kex: [ecdh-sha2-nistp256, diffie-hellman-group14-sha1, sntrup761x25519-sha512@openssh.com], cipher: [aes128-cbc], mac: [hmac-sha2-256, hmac-sha1-etm@openssh.com, hmac-sha2-256-etm@openssh.com, hmac-sha2-256-etm@openssh.com], compress: [zlib], hostkey: [x] }';
    assert.throws(
      () => parseConfigText(gw(bad), 'stint.yaml'),
      (err: ConfigError) => {
        const text = err.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
        assert.match(
          text,
          /gateways\.ssh\.algorithms\.kex\[0\]: "ecdh-sha2-nistp256" is not a key exchange algorithm the gateway offers \(it uses NIST elliptic curves\); choose from: curve25519-sha256, /,
        );
        assert.match(text, /algorithms\.kex\[1\]: "diffie-hellman-group14-sha1" .*weak hash/);
        assert.match(text, /algorithms\.kex\[2\]: "sntrup761x25519-sha512@openssh\.com" .*the SSH library \(ssh2\) does not implement it/);
        assert.match(text, /algorithms\.cipher\[0\]: "aes128-cbc" .*CBC/);
        assert.match(text, /algorithms\.mac\[0\]: "hmac-sha2-256" .*encrypt-and-MAC/);
        assert.match(text, /algorithms\.mac\[1\]: "hmac-sha1-etm@openssh\.com" .*weak hash/);
        assert.match(text, /algorithms\.mac\[3\]: "hmac-sha2-256-etm@openssh\.com" is listed twice/);
        assert.doesNotMatch(text, /algorithms\.mac\[2\]/);
        assert.match(text, /algorithms\.compress\[0\]: "zlib" .*before authentication/);
        assert.match(text, /algorithms\.hostkey: unknown field "hostkey"/);
        return true;
      },
    );
    assert.throws(() => parseConfigText(gw('{ kex: [] }'), 'stint.yaml'), /gateways\.ssh\.algorithms\.kex: must name at least one algorithm/);
  });

  it('gateways.ssh is strict like the rest', () => {
    assert.throws(
      () => parseConfigText(`gateways:\n  ssh: { listen: "2222", hostKeyfile: x }\n${all}`, 'stint.yaml'),
      (err: ConfigError) => {
        const text = err.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
        assert.match(text, /gateways\.ssh\.listen: "2222" is not HOST:PORT/);
        assert.match(text, /gateways\.ssh\.hostKeyfile: unknown field "hostKeyfile" \(did you mean "hostKeyFile"\?\)/);
        return true;
      },
    );
  });
});
