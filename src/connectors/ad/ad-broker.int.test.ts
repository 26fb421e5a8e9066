// The real broker on a real Samba AD DC: overlapping own-account grants of
// the same group keep the membership until the last one ends, and a DC that
// cannot be reached is skipped for the next one listed (failover).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import { freePort } from '../../embedded/free-port.js';
import type { UserDef } from '../../core/types.js';
import { smbListWithPassword } from './testing/ad-clients.js';
import { createAdTestEnv, type AdTestEnv } from './testing/ad-test-env.js';

describe('ad target in the broker (Samba AD DC)', () => {
  let env: AdTestEnv;
  let app: App;
  let dir: string;

  before(async () => {
    env = await createAdTestEnv();
    dir = await mkdtemp(join(tmpdir(), 'stint-ad-'));
    await writeFile(join(dir, 'ad.secret'), env.server.adminPassword, { mode: 0o600 });
    // The first DC listed is down (nothing listens there): every operation fails over to the second.
    const dead = `ldaps://127.0.0.1:${await freePort()}`;
    await writeFile(
      join(dir, 'stint.yaml'),
      `targets:
  - name: corp
    kind: ad
    urls: ["${dead}", "${env.server.url}"]
    caFile: ${JSON.stringify(env.server.caFile)}
    tlsServerName: ${env.server.serverName}
    baseDN: "${env.server.baseDN}"
    ephemeralOU: "${env.ephemeralOU}"
    groupBaseDN: "OU=Groups,${env.server.baseDN}"
    connectTimeoutMs: 30000
    admin: { user: "${env.server.adminUser}", passwordFile: ad.secret }
profiles:
  - { name: share-a, target: corp, mode: own-account, grants: ["${env.server.shareGroup}"], maxDuration: 1h }
  - { name: share-b, target: corp, mode: own-account, grants: ["${env.server.shareGroup}", "${env.groups.own}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["share-*"], approval: auto }
users:
  - { name: alice, groups: [], accounts: { corp: ${env.own.sam} } }
`,
    );
    app = await createApp({
      configPath: join(dir, 'stint.yaml'),
      dataDir: join(dir, 'data'),
      env: { STINT_MASTER_KEY: Buffer.alloc(32, 5).toString('base64') },
      logger: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    await app?.close();
    await env?.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  const canList = () =>
    smbListWithPassword(env.server, env.own.sam, env.own.secret).then(
      () => true,
      () => false,
    );

  it('overlapping own-account grants: the membership goes only with the last grant holding it', async () => {
    const alice = app.catalog.users.get('alice') as UserDef;
    assert.equal(await canList(), false, 'no standing access');
    const a = (await app.requests.create({ actor: alice, profile: 'share-a', durationMs: 600_000, reason: null, ticket: null })).grant!;
    const b = (await app.requests.create({ actor: alice, profile: 'share-b', durationMs: 600_000, reason: null, ticket: null })).grant!;
    assert.equal(a.status, 'active');
    assert.equal(b.status, 'active');
    assert.equal(await canList(), true);

    assert.equal((await app.grants.revoke({ grantId: a.id, actor: alice })).status, 'revoked');
    assert.equal(await canList(), true, 'share-b still holds stint-share-readers');

    assert.equal((await app.grants.revoke({ grantId: b.id, actor: alice })).status, 'revoked');
    assert.equal(await canList(), false, 'the last grant took the membership with it');
  });
});
