// Overlapping own-account grants on a kind whose grants form one unit (Redis
// selectors): two grants with different but overlapping rule sets each add
// their own selector and each removes its own; access ends with the last one.
// Real broker, real redis-server.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import { createRedisTestEnv, type RedisTestEnv } from '../../connectors/redis/testing/redis-test-env.js';
import type { UserDef } from '../types.js';

describe('own-account grants that form one unit (redis selectors)', () => {
  let env: RedisTestEnv;
  let app: App;
  let dir: string;

  before(async () => {
    env = await createRedisTestEnv();
    dir = await mkdtemp(join(tmpdir(), 'stint-sets-'));
    await writeFile(join(dir, 'redis.secret'), env.admin.secret, { mode: 0o600 });
    await writeFile(
      join(dir, 'stint.yaml'),
      `targets:
  - { name: cache, kind: redis, host: ${env.server.host}, port: ${env.server.port}, marker: ${env.marker}, admin: { user: ${env.admin.user}, passwordFile: redis.secret } }
profiles:
  - { name: read-a, target: cache, mode: own-account, grants: ["~${env.appKey}*", "+get"], maxDuration: 1h }
  - { name: read-b, target: cache, mode: own-account, grants: ["~${env.appKey}*", "+get", "+strlen"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["read-*"], approval: auto }
users:
  - { name: alice, groups: [], accounts: { cache: ${env.own.user} } }
`,
    );
    app = await createApp({
      configPath: join(dir, 'stint.yaml'),
      dataDir: join(dir, 'data'),
      env: { STINT_MASTER_KEY: Buffer.alloc(32, 3).toString('base64') },
      logger: pino({ level: 'silent' }),
    });
    await env.root.call('SET', `${env.appKey}k`, 'v');
  });
  after(async () => {
    await app?.close();
    await env?.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  async function canGet(): Promise<boolean> {
    const c = await env.connect(env.own.user, env.own.secret);
    try {
      return (await c.get(`${env.appKey}k`)) === 'v';
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  }

  it('each grant removes its own selector; access ends only with the last grant', async () => {
    const alice = app.catalog.users.get('alice') as UserDef;
    assert.equal(await canGet(), false, 'no standing access');
    const a = (await app.requests.create({ actor: alice, profile: 'read-a', durationMs: 600_000, reason: null, ticket: null })).grant!;
    const b = (await app.requests.create({ actor: alice, profile: 'read-b', durationMs: 600_000, reason: null, ticket: null })).grant!;
    assert.equal(a.status, 'active');
    assert.equal(b.status, 'active');
    assert.equal(await canGet(), true);

    assert.equal((await app.grants.revoke({ grantId: a.id, actor: alice })).status, 'revoked');
    assert.equal(await canGet(), true, 'read-b still gives access');

    assert.equal((await app.grants.revoke({ grantId: b.id, actor: alice })).status, 'revoked');
    assert.equal(await canGet(), false, 'the last grant took the access with it');
  });
});
