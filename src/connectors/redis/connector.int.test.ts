// The Redis connector against a real redis-server (Debian's 7.0 in tests),
// running as an admin with exactly the documented minimum rules: the shared
// contract suite, then what is specific to Redis (NOPERM, live-client
// disconnection, the ACL file, selectors on own accounts, outages).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { freePort } from '../../embedded/free-port.js';
import { startRedisServer } from '../../testing/servers/redis.js';
import type { Connector } from '../contract.js';
import { connectorContractSuite } from '../testing/contract-suite.js';
import { createRedisConnector } from './module.js';
import { createRedisTestEnv, plainClient, redisHarness, testSecret, type RedisTestEnv } from './testing/redis-test-env.js';
import { rejectsTarget } from '../testing/rejects-target.js';

const inAnHour = () => new Date(Date.now() + 3600_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

connectorContractSuite({
  name: 'redis',
  setup: async () => redisHarness(await createRedisTestEnv()),
});

describe('redis connector specifics', () => {
  let env: RedisTestEnv;
  let conn: Connector;
  let n = 0;
  const name = () => `stint_rd_${env.suffix}_${++n}`;
  const read = () => [`%R~${env.appKey}*`, '+get'];

  before(async () => {
    env = await createRedisTestEnv();
    conn = env.newConnector();
  });
  after(async () => {
    await env.teardown();
  });

  async function aclFileText(): Promise<string> {
    const [, path] = (await env.root.call('CONFIG', 'GET', 'aclfile')) as [string, string];
    assert.ok(path, 'the test server uses an aclfile');
    return readFile(path, 'utf8');
  }

  it('the issued credential runs the allowed command and gets NOPERM for everything else', async () => {
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: read(), expiresAt: inAnHour() });
    const c = await env.connect(account, secret);
    assert.equal(await c.get(`${env.appKey}item`), 'one');
    await assert.rejects(c.set(`${env.appKey}item`, 'x'), /NOPERM/, 'write command refused');
    await assert.rejects(c.get(`secret:${env.suffix}:item`), /NOPERM/, 'key outside the pattern refused');
    await assert.rejects(c.call('ACL', 'WHOAMI'), /NOPERM/);
    // The marker channel grants nothing: no pub/sub command is allowed.
    await assert.rejects(c.publish(env.marker, 'x'), /NOPERM/);
    assert.equal(await c.get(`${env.appKey}item`), 'one', 'still connected after refusals');
    c.disconnect();
    assert.deepEqual(await conn.removeAccount({ account }), { existed: true, terminatedSessions: 0 });
  });

  it('removal closes a live client within a few seconds, even one blocked in a command', async () => {
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: [...read(), '+blpop', `~${env.appKey}queue`], expiresAt: inAnHour() });
    const idle = await env.connect(account, secret);
    const blocked = await env.connect(account, secret);
    const closed = (c: typeof idle) => new Promise<void>((resolve) => (c.status === 'end' ? resolve() : c.once('end', () => resolve())));
    const blpop = blocked.blpop(`${env.appKey}queue`, 0).catch((e: unknown) => e);
    await sleep(100);
    const res = await conn.removeAccount({ account });
    assert.equal(res.existed, true);
    assert.equal(res.terminatedSessions, 2);
    // The BLPOP waits for ever: only the removal ending its connection can end it (the bound only limits a failure).
    const deadline = new Promise((_, reject) => setTimeout(() => reject(new Error('connections still open after 120 s')), 120_000).unref());
    await Promise.race([Promise.all([closed(idle), closed(blocked)]), deadline]);
    assert.ok((await blpop) instanceof Error, 'the blocked command ended with the connection');
    const list = String(await env.root.call('CLIENT', 'LIST'));
    assert.ok(!list.includes(`user=${account} `), 'no client of the user remains');
    await assert.rejects(env.connect(account, secret), /WRONGPASS/);
  });

  it('persists to the ACL file: the user is there after create and gone after removal', async () => {
    const account = name();
    await conn.createAccount({ account, secret: testSecret(), grants: read(), expiresAt: inAnHour() });
    const line = (await aclFileText()).split('\n').find((l) => l.startsWith(`user ${account} `));
    assert.ok(line, 'saved on create');
    assert.ok(line.includes(`&${env.marker}`) && line.includes(`%R~${env.appKey}*`), line);
    await conn.removeAccount({ account });
    assert.ok(!(await aclFileText()).includes(`user ${account} `), 'gone from the file after removal');
  });

  it('own account: a grant is one selector; revoke restores the rules and other selectors exactly', async () => {
    // A selector the person already had, which Stint must put back untouched.
    await env.root.call('ACL', 'SETUSER', env.own.user, `(~own:${env.suffix}:sel:* resetchannels &own-news -@all +hget +hset)`);
    const before = await env.root.call('ACL', 'GETUSER', env.own.user);
    const other = [`~${env.appKey}*`, '+set'];
    await conn.grantToAccount({ account: env.own.user, grants: read() });
    await conn.grantToAccount({ account: env.own.user, grants: other });
    await conn.grantToAccount({ account: env.own.user, grants: [...read()].reverse() }); // same set: no new selector
    const granted = (await env.root.call('ACL', 'GETUSER', env.own.user)) as unknown[];
    assert.equal((granted[granted.indexOf('selectors') + 1] as unknown[]).length, 3);
    assert.match(await aclFileText(), new RegExp(`&${env.marker}:grant:`), 'saved to the ACL file');
    await conn.revokeFromAccount({ account: env.own.user, grants: other, terminateSessions: false });
    await conn.revokeFromAccount({ account: env.own.user, grants: read(), terminateSessions: false });
    assert.deepEqual(await env.root.call('ACL', 'GETUSER', env.own.user), before);
    await env.root.call('ACL', 'SETUSER', env.own.user, 'clearselectors');
  });

  it('concurrent own-account grants and revokes from two brokers never lose or resurrect a selector', async () => {
    const a = env.newConnector();
    const b = env.newConnector();
    const sets = [read(), [`~${env.appKey}*`, '+set'], [`~${env.appKey}*`, '+del'], [`~${env.appKey}*`, '+exists']];
    const acct = env.own.user;
    await Promise.all(sets.map((g, i) => (i % 2 ? a : b).grantToAccount({ account: acct, grants: g })));
    assert.equal((await conn.describeAccount({ account: acct })).grants.length, 6);
    // Revoke two while granting them again through the other broker, then revoke all.
    await Promise.all([
      a.revokeFromAccount({ account: acct, grants: sets[0]!, terminateSessions: false }),
      b.revokeFromAccount({ account: acct, grants: sets[1]!, terminateSessions: false }),
      a.grantToAccount({ account: acct, grants: sets[2]! }),
      b.grantToAccount({ account: acct, grants: sets[3]! }),
    ]);
    assert.deepEqual((await conn.describeAccount({ account: acct })).grants.sort(), [`~${env.appKey}*`, '+del', '+exists'].sort());
    await Promise.all(sets.map((g, i) => (i % 2 ? b : a).revokeFromAccount({ account: acct, grants: g, terminateSessions: false })));
    assert.deepEqual((await conn.describeAccount({ account: acct })).grants, []);
  });

  it('refuses grants that would change the account itself or erase the marker, changing nothing', async () => {
    for (const grant of ['on', 'nopass', '>pw', '#abc', 'allchannels', '&*', `&${env.marker}`, '~a b', 'reset', '(~x +get)', '+GET', `~a"b`]) {
      const account = name();
      const err = await rejectsTarget(conn.createAccount({ account, secret: testSecret(), grants: [grant], expiresAt: inAnHour() }));
      assert.equal(err.retryable, false);
      assert.equal((await conn.describeAccount({ account })).exists, false, grant);
    }
    const err = await rejectsTarget(conn.grantToAccount({ account: env.own.user, grants: ['&*'] }));
    assert.equal(err.retryable, false);
    assert.deepEqual((await conn.describeAccount({ account: env.own.user })).grants, []);
  });

  it('a name that looks like ACL rules stays a name', async () => {
    const account = `nopass~*+@all>pw_${env.suffix}`;
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: read(), expiresAt: inAnHour() });
    const c = await env.connect(account, secret);
    await assert.rejects(c.get(`secret:${env.suffix}:item`), /NOPERM/);
    c.disconnect();
    await conn.removeAccount({ account });
    for (const bad of ['has space', 'tab\there', 'nl\nx', '']) {
      assert.equal((await rejectsTarget(conn.createAccount({ account: bad, secret, grants: [], expiresAt: inAnHour() }))).retryable, false);
    }
  });

  it('stores only the SHA-256 of the secret and scrubs it from errors', async () => {
    const account = name();
    const canary = `CANARY-${testSecret()}`;
    const err = await rejectsTarget(conn.createAccount({ account, secret: canary, grants: ['+no_such_command'], expiresAt: inAnHour() }));
    assert.equal(err.retryable, false);
    assert.match(err.message, /createAccount of account "stint_rd_[^"]*" failed: .*Unknown command/);
    assert.ok(!err.message.includes('CANARY') && !err.message.includes(env.admin.secret), err.message);
    assert.equal(err.cause, undefined, 'the driver error (which lists the arguments) is not attached');
    assert.equal((await conn.describeAccount({ account })).exists, false);
  });

  it('reports a stopped server as retryable, and works again once it is back', async () => {
    const server = await startRedisServer();
    try {
      const c = createRedisConnector({
        target: 'stopped',
        settings: { host: server.host, port: server.port, connectTimeoutMs: 2000, commandTimeoutMs: 2000 },
        adminUser: server.user,
        adminSecret: server.password,
      });
      const secret = `CANARY-${testSecret()}`;
      await c.createAccount({ account: 'acct_x', secret, grants: ['+ping'], expiresAt: inAnHour() });
      await server.stop();
      const err = await rejectsTarget(c.createAccount({ account: 'acct_y', secret, grants: [], expiresAt: inAnHour() }));
      assert.equal(err.retryable, true, err.message);
      assert.match(err.message, /createAccount of account "acct_y"/);
      assert.ok(!err.message.includes('CANARY') && !err.message.includes(server.password), err.message);
      for (const op of [
        () => c.checkHealth(),
        () => c.removeAccount({ account: 'acct_x' }),
        () => c.listManaged(),
        () => c.describeAccount({ account: 'acct_x' }),
      ]) {
        assert.equal((await rejectsTarget(op())).retryable, true);
      }
      await server.start();
      await c.checkHealth();
      // The aclfile kept the account across the restart; removal still works.
      assert.deepEqual(await c.removeAccount({ account: 'acct_x' }), { existed: true, terminatedSessions: 0 });
      await c.close();
    } finally {
      await server.destroy();
    }
  });

  it('reports nothing listening as retryable', async () => {
    const dead = env.newConnector({ port: await freePort() });
    assert.equal((await rejectsTarget(dead.checkHealth())).retryable, true);
  });

  it('reports a refused admin credential as non-retryable, without the secret', async () => {
    const wrong = `WRONG-${testSecret()}`;
    const err = await rejectsTarget(env.newConnector({ adminSecret: wrong }).checkHealth());
    assert.equal(err.retryable, false, err.message);
    assert.match(err.message, /WRONGPASS/);
    assert.ok(!err.message.includes(wrong));
  });

  it('the admin needs no more than the documented rules', async () => {
    // Everything above ran as this admin; make sure it really is that narrow.
    const c = plainClient(env.server.host, env.server.port);
    await c.connect();
    await c.call('AUTH', env.admin.user, env.admin.secret);
    await assert.rejects(c.call('ACL', 'LOAD'), /NOPERM/);
    await assert.rejects(c.get(`${env.appKey}item`), /NOPERM/);
    await assert.rejects(c.call('CONFIG', 'SET', 'aclfile', '/tmp/x'), /NOPERM/);
    c.disconnect();
  });

  it('measures create and remove latency', async (t) => {
    const runs = 20;
    const create: number[] = [];
    const remove: number[] = [];
    for (let i = 0; i < runs; i++) {
      const account = name();
      let s = performance.now();
      await conn.createAccount({ account, secret: testSecret(), grants: read(), expiresAt: inAnHour() });
      create.push(performance.now() - s);
      s = performance.now();
      await conn.removeAccount({ account });
      remove.push(performance.now() - s);
    }
    const stat = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, p95 ${s[Math.floor(s.length * 0.95)]!.toFixed(1)} ms`;
    };
    console.log(`redis createAccount (${runs} runs, aclfile saves): ${stat(create)}`);
    console.log(`redis removeAccount (${runs} runs, aclfile saves): ${stat(remove)}`);
    t.diagnostic(`createAccount ${stat(create)}; removeAccount ${stat(remove)}`);
  });
});
