// The PostgreSQL connector against a real server (PostgreSQL 17 in tests),
// running as a least-privileged admin: the shared contract suite, then what is
// specific to PostgreSQL (SCRAM, scrubbing, markers, outages). Removal's own
// cases are in removal.int.test.ts.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { freePort } from '../../embedded/free-port.js';
import type { Connector } from '../contract.js';
import { connectorContractSuite } from '../testing/contract-suite.js';
import { createPgTestEnv, postgresHarness, testSecret, type PgTestEnv } from './testing/postgres-test-env.js';
import { rejectsTarget } from '../testing/rejects-target.js';

const id = (s: string) => pg.escapeIdentifier(s);
const inAnHour = () => new Date(Date.now() + 3600_000);

connectorContractSuite({
  name: 'postgres',
  setup: async () => postgresHarness(await createPgTestEnv()),
});

describe('postgres connector specifics', () => {
  let env: PgTestEnv;
  let conn: Connector;
  let n = 0;
  const name = () => `stint_pg_${env.suffix}_${++n}`;

  before(async () => {
    env = await createPgTestEnv();
    conn = env.newConnector();
  });
  after(async () => {
    await env.teardown();
  });

  it('stores a client-computed SCRAM verifier, never the plaintext, and login works with it', async () => {
    const account = name();
    // Non-ASCII but SASLprep-stable, with quote and backslash for the literal escaping.
    const secret = `pässwörd-✓-'\\-${testSecret()}`;
    await conn.createAccount({ account, secret, grants: [env.roles.read], expiresAt: inAnHour() });
    const r = await env.su.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [account]);
    const stored = r.rows[0]!.rolpassword;
    assert.match(stored, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    assert.ok(!stored.includes(secret));
    const c = await env.connect(account, secret);
    await c.query('SELECT count(*) FROM public.items');
    await c.end();
    await conn.removeAccount({ account });
  });

  it('a secret announced ahead (prepareSecret) logs in like any other, once prepared or while still being prepared', async () => {
    for (const wait of [true, false]) {
      const account = name();
      const secret = testSecret();
      conn.prepareSecret!(secret);
      if (wait) await new Promise((r) => setTimeout(r, 50));
      await conn.createAccount({ account, secret, grants: [env.roles.read], expiresAt: inAnHour() });
      const c = await env.connect(account, secret);
      await c.query('SELECT count(*) FROM public.items');
      await c.end();
      await conn.removeAccount({ account });
    }
    // An announced secret never used is harmless, and one announced for another account's secret does not leak into it.
    conn.prepareSecret!(testSecret());
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: [], expiresAt: inAnHour() });
    await (await env.connect(account, secret)).end();
    await conn.removeAccount({ account });
  });

  it('createAccount on an existing managed account brings it to the requested state', async () => {
    const account = name();
    const first = testSecret();
    const second = testSecret();
    await conn.createAccount({ account, secret: first, grants: [env.roles.read, env.roles.write], expiresAt: inAnHour() });
    const later = new Date(Date.now() + 7200_000);
    await conn.createAccount({ account, secret: second, grants: [env.roles.read], expiresAt: later });
    await assert.rejects(env.connect(account, first), 'the old secret no longer works');
    const c = await env.connect(account, second);
    await assert.rejects(c.query('SELECT * FROM public.secrets'), 'the dropped grant is gone');
    await c.end();
    const m = (await conn.listManaged()).accounts.find((a) => a.account === account);
    assert.deepEqual(m, { account, grants: [env.roles.read], expiresAt: later });
    await conn.removeAccount({ account });
  });

  it('scrubs the secret and its verifier from errors', async () => {
    const account = name();
    const canary = `CANARY-${testSecret()}`;
    const err = await rejectsTarget(conn.createAccount({ account, secret: canary, grants: [`missing_${env.suffix}`], expiresAt: inAnHour() }));
    assert.equal(err.retryable, false);
    assert.match(err.message, /createAccount of account "stint_pg_[^"]*" failed: role "missing_[^"]*" does not exist \[42704\]/);
    assert.ok(!err.message.includes('CANARY') && !err.message.includes('SCRAM-SHA-256$'), err.message);
    assert.equal(err.cause, undefined, 'the driver error is not attached');
    assert.equal((await conn.describeAccount({ account })).exists, false);
  });

  it('refuses names PostgreSQL would silently truncate, and grants of the marker role', async () => {
    const long = `stint_${env.suffix}_${'x'.repeat(60)}`;
    const err = await rejectsTarget(conn.createAccount({ account: long, secret: testSecret(), grants: [], expiresAt: inAnHour() }));
    assert.equal(err.retryable, false);
    assert.equal((await env.su.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [long.slice(0, 63)])).rowCount, 0);
    const own = await rejectsTarget(conn.grantToAccount({ account: env.own.user, grants: [env.marker] }));
    assert.equal(own.retryable, false);
  });

  it('creates the marker once when connectors race, and concurrent creates of one account converge', async () => {
    const marker = `stint_managed_${env.suffix}_race`;
    const a = env.newConnector({ markerRole: marker });
    const b = env.newConnector({ markerRole: marker });
    const names = [name(), name()];
    await Promise.all([
      a.createAccount({ account: names[0]!, secret: testSecret(), grants: [env.roles.read], expiresAt: inAnHour() }),
      b.createAccount({ account: names[1]!, secret: testSecret(), grants: [env.roles.read], expiresAt: inAnHour() }),
    ]);
    const m = await env.su.query<{ rolcanlogin: boolean }>('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [marker]);
    assert.deepEqual(m.rows, [{ rolcanlogin: false }]);
    assert.deepEqual((await a.listManaged()).accounts.map((x) => x.account).sort(), [...names].sort());

    const same = name();
    const secrets = [testSecret(), testSecret()];
    await Promise.all([a, b].map((c, i) => c.createAccount({ account: same, secret: secrets[i]!, grants: [env.roles.read], expiresAt: inAnHour() })));
    const logins = await Promise.allSettled(secrets.map((s) => env.connect(same, s)));
    assert.equal(logins.filter((l) => l.status === 'fulfilled').length, 1, 'exactly one of the two definitions won');
    for (const acct of [...names, same]) assert.equal((await a.removeAccount({ account: acct })).existed, true);
    // The other test marker's accounts are unaffected.
    assert.ok(!(await conn.listManaged()).accounts.some((x) => x.account === same));
  });

  it('never treats the admin or a co-administrator of the marker role as managed', async () => {
    // Make sure the marker exists, then give it to a second admin WITH ADMIN
    // OPTION (another broker's admin) and, plainly, to the connector's admin itself.
    const probe = name();
    await conn.createAccount({ account: probe, secret: testSecret(), grants: [], expiresAt: inAnHour() });
    const coAdmin = name();
    await env.createUnmanaged(coAdmin);
    await env.su.query(`GRANT ${id(env.marker)} TO ${id(coAdmin)} WITH ADMIN OPTION`);
    // A separate grantor gives a separate, plain (non-ADMIN) membership row.
    await env.su.query(`GRANT ${id(env.marker)} TO ${id(env.admin.user)} GRANTED BY ${id(coAdmin)}`);
    const plain = await env.su.query(`SELECT 1 FROM pg_auth_members WHERE roleid = to_regrole($1) AND member = to_regrole($2) AND NOT admin_option`, [
      id(env.marker),
      id(env.admin.user),
    ]);
    assert.equal(plain.rowCount, 1);
    try {
      const listed = (await conn.listManaged()).accounts.map((a) => a.account);
      assert.ok(listed.includes(probe), 'the marker works');
      assert.ok(!listed.includes(coAdmin) && !listed.includes(env.admin.user), listed.join(', '));
      for (const account of [coAdmin, env.admin.user]) {
        assert.equal((await rejectsTarget(conn.removeAccount({ account }))).retryable, false);
        assert.equal((await conn.describeAccount({ account })).exists, true);
      }
    } finally {
      await env.su.query(`REVOKE ${id(env.marker)} FROM ${id(env.admin.user)} GRANTED BY ${id(coAdmin)}`);
      await conn.removeAccount({ account: probe });
    }
  });

  it('reports an unreachable server as retryable, naming the operation and account, without secrets', async () => {
    const dead = env.newConnector({ port: await freePort() });
    const secret = `CANARY-${testSecret()}`;
    const err = await rejectsTarget(dead.createAccount({ account: 'acct_x', secret, grants: [], expiresAt: inAnHour() }));
    assert.equal(err.retryable, true, err.message);
    assert.match(err.message, /createAccount of account "acct_x"/);
    assert.ok(!err.message.includes('CANARY') && !err.message.includes(env.admin.secret));
    for (const op of [() => dead.checkHealth(), () => dead.removeAccount({ account: 'acct_x' }), () => dead.listManaged()]) {
      assert.equal((await rejectsTarget(op())).retryable, true);
    }
  });

  it('reports a refused admin credential as non-retryable, without the secret', async () => {
    const wrong = `WRONG-${testSecret()}`;
    const bad = env.newConnector({ adminSecret: wrong });
    const err = await rejectsTarget(bad.checkHealth());
    assert.equal(err.retryable, false);
    assert.match(err.message, /28P01/);
    assert.ok(!err.message.includes(wrong));
  });

  it('measures create and remove latency', async (t) => {
    const runs = 20;
    const create: number[] = [];
    const remove: number[] = [];
    for (let i = 0; i < runs; i++) {
      const account = name();
      let s = performance.now();
      await conn.createAccount({ account, secret: testSecret(), grants: [env.roles.read], expiresAt: inAnHour() });
      create.push(performance.now() - s);
      s = performance.now();
      await conn.removeAccount({ account });
      remove.push(performance.now() - s);
    }
    const stat = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, p95 ${s[Math.floor(s.length * 0.95)]!.toFixed(1)} ms`;
    };
    t.diagnostic(`createAccount (${runs} runs): ${stat(create)}`);
    t.diagnostic(`removeAccount (${runs} runs): ${stat(remove)}`);
  });
});
