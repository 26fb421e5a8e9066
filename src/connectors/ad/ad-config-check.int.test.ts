// Profiles on an ad target are checked against the real directory (Samba AD
// DC) when the broker starts and when the config is reloaded: a group that
// does not exist, a DN outside groupBaseDN and a built-in privileged group
// (by SID) without the profile's allowBuiltinPrivileged each refuse the config
// at the grant's file:line, naming the profile and the group.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import { ConfigError } from '../../config/load.js';
import { freePort } from '../../embedded/free-port.js';
import { createAdTestEnv, type AdTestEnv } from './testing/ad-test-env.js';

describe('ad profiles checked against the directory at config load (Samba AD DC)', () => {
  let env: AdTestEnv;
  let dir: string;
  let app: App | undefined;

  before(async () => {
    env = await createAdTestEnv();
    dir = await mkdtemp(join(tmpdir(), 'stint-ad-cfg-'));
    await writeFile(join(dir, 'ad.secret'), env.server.adminPassword, { mode: 0o600 });
  });
  after(async () => {
    await app?.close();
    await env?.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  const target = (name: string, groupBaseDN: string, urls = [env.server.url]) => `  - name: ${name}
    kind: ad
    urls: ${JSON.stringify(urls)}
    caFile: ${JSON.stringify(env.server.caFile)}
    tlsServerName: ${env.server.serverName}
    baseDN: "${env.server.baseDN}"
    ephemeralOU: "${env.ephemeralOU}"
    groupBaseDN: "${groupBaseDN}"
    connectTimeoutMs: 30000
    admin: { user: "${env.server.adminUser}", passwordFile: ad.secret }
`;
  const config = (profiles: string[], extraTargets = '') =>
    `targets:
${target('corp', `OU=Groups,${env.server.baseDN}`)}${target('domain', env.server.baseDN)}${extraTargets}profiles:
${profiles.map((p) => `  - ${p}\n`).join('')}`;
  const good = () => [
    `{ name: share, target: corp, mode: own-account, grants: ["${env.server.shareGroup}"], maxDuration: 1h }`,
    `{ name: da-allowed, target: domain, mode: own-account, grants: ["Domain Admins"], maxDuration: 1h, allowBuiltinPrivileged: true }`,
  ];
  const start = async (text: string) => {
    await writeFile(join(dir, 'stint.yaml'), text);
    return createApp({
      configPath: join(dir, 'stint.yaml'),
      dataDir: join(dir, 'data'),
      env: { STINT_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
      logger: pino({ level: 'silent' }),
    });
  };
  /** 1-based line of the first line of `text` containing `needle`. */
  const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

  it('refuses unknown, out-of-base and unconsented built-in groups at their lines; starts once they are fixed', async () => {
    const missing = `no-such-group-${env.suffix}`;
    const outside = `CN=Domain Admins,CN=Users,${env.server.baseDN}`;
    const builtinDN = `CN=Administrators,CN=Builtin,${env.server.baseDN}`;
    const bad = [
      `{ name: p-missing, target: corp, mode: own-account, grants: ["${env.server.shareGroup}", "${missing}"], maxDuration: 1h }`,
      `{ name: p-outside, target: corp, mode: own-account, grants: ["${outside}"], maxDuration: 1h }`,
      `{ name: p-da, target: domain, mode: own-account, grants: ["Domain Admins"], maxDuration: 1h }`,
      `{ name: p-admins, target: domain, mode: ephemeral-account, grants: ["${builtinDN}"], maxDuration: 1h }`,
    ];
    const text = config([...good(), ...bad]);
    const err = await start(text).then(
      () => assert.fail('the broker started with profiles the directory refuses'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError, String(err));
    const got = err.issues.map((i) => `${i.line} ${i.path} ${i.message}`);
    assert.equal(got.length, 4, got.join('\n'));
    assert.match(
      got[0]!,
      new RegExp(
        `^${lineOf(text, 'p-missing')} profiles\\[2\\]\\.grants\\[1\\] profile p-missing: "${missing}" cannot be granted on target corp: group "${missing}" does not exist`,
      ),
    );
    assert.match(got[1]!, new RegExp(`^${lineOf(text, 'p-outside')} profiles\\[3\\]\\.grants\\[0\\] profile p-outside: .* is outside`));
    assert.match(
      got[2]!,
      new RegExp(
        `^${lineOf(text, 'p-da')} profiles\\[4\\]\\.grants\\[0\\] profile p-da: "Domain Admins" .*built-in privileged group Domain Admins; set allowBuiltinPrivileged: true on the profile`,
      ),
    );
    assert.match(
      got[3]!,
      new RegExp(`^${lineOf(text, 'p-admins')} profiles\\[5\\]\\.grants\\[0\\] profile p-admins: .*built-in privileged group Administrators`),
    );
    assert.match(err.message, /stint\.yaml:\d+:\d+: profiles\[4\]\.grants\[0\]/);

    app = await start(config(good()));
    assert.deepEqual([...app.catalog.profiles.keys()], ['share', 'da-allowed']);
  });

  it('a reload naming a group the directory refuses is refused and the running config stays', async () => {
    assert.ok(app, 'started by the previous test');
    await writeFile(
      join(dir, 'stint.yaml'),
      config([...good(), `{ name: p-da, target: domain, mode: own-account, grants: ["Domain Admins"], maxDuration: 1h }`]),
    );
    await assert.rejects(app.reload(), (e: unknown) => e instanceof ConfigError && /profile p-da: "Domain Admins"/.test(e.message));
    assert.deepEqual([...app.catalog.profiles.keys()], ['share', 'da-allowed']);
    await writeFile(join(dir, 'stint.yaml'), config(good()));
    await app.reload();
    await app.close();
    app = undefined;
  });

  it('a target that cannot be reached is not a config error: the broker starts and its profiles are checked at grant time', async () => {
    const dead = `ldaps://127.0.0.1:${await freePort()}`;
    const text = config(
      [...good(), `{ name: on-dead, target: dead, mode: own-account, grants: ["no-such-group-${env.suffix}"], maxDuration: 1h }`],
      target('dead', env.server.baseDN, [dead]).replace('connectTimeoutMs: 30000', 'connectTimeoutMs: 2000'),
    );
    app = await start(text);
    assert.ok(app.catalog.profiles.has('on-dead'));
  });
});
