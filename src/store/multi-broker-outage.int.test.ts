// The store's PostgreSQL stops under two full brokers (`stint server` child
// processes) while grants are expiring. Meanwhile each broker reports not
// ready in /readyz and refuses writes with 503 `unavailable`; the store stays
// down past every grant's expiry and a lease. Once it is back both brokers
// heal without a restart, and every grant that expired is revoked exactly
// once in the store, the audit and the metrics, and gone from the target.
// Waits for conditions only; deadlines bound a failure.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../embedded/postgres.js';
import { createTestTarget, type TestTarget } from '../testing/broker.js';
import { http, startChildBroker, writeBrokerConfig, type ChildBroker } from '../testing/child-broker.js';
import { startStatementCounter, type StatementCounter } from '../testing/pg-statement-counter.js';

const leaseMs = 5_000;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 300_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('store outage under two brokers', { timeout: 900_000 }, () => {
  let storeServer: EmbeddedPostgresServer;
  let target: TestTarget;
  let counter: StatementCounter;
  let root: string;
  const brokers: ChildBroker[] = [];
  let admin: string;
  let dave: string;

  before(async () => {
    storeServer = await startEmbeddedPostgres({ unref: true });
    const c = new pg.Client({ connectionString: storeServer.url() });
    await c.connect();
    await c.query('CREATE DATABASE stint_store');
    await c.end();
    target = await createTestTarget();
    counter = await startStatementCounter({ host: target.host, port: target.port });
    root = await mkdtemp(join(tmpdir(), 'stint-outage-'));
    const configPath = await writeBrokerConfig(join(root, 'a'), target, { port: counter.port });
    const start = (name: string) => startChildBroker({ configPath, dataDir: join(root, name), extraEnv: { STINT_STORE_URL: storeServer.url('stint_store') } });
    brokers.push(await start('a'));
    brokers.push(await start('b'));
    admin = await brokers[0]!.adminToken();
    const t = await http(brokers[0]!.url, admin, 'POST', '/v1/tokens', { user: 'dave', description: 'outage test' });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    dave = t.body.secret;
  });

  after(async () => {
    await storeServer?.start();
    await Promise.all(brokers.map((b) => b.stop()));
    await counter?.close();
    await target?.drop();
    await storeServer?.destroy();
    await rm(root, { recursive: true, force: true });
  });

  const readyz = async (b: ChildBroker) => {
    try {
      const r = await fetch(`${b.url}/readyz`);
      return { status: r.status, body: (await r.json()) as any };
    } catch {
      return { status: 0, body: null };
    }
  };
  const drops = (account: string) => counter.statements().filter((s) => s.includes(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(account)}`)).length;

  it('not ready and refusing writes while the store is down; heals without restart; nothing lost or doubled', async () => {
    const request = (i: number, duration: string) =>
      http(brokers[i % 2]!.url, dave, 'POST', '/v1/requests', { profile: 'pg-read', duration, reason: 'outage test' });
    const short: { id: string; account: string; expiresAt: string }[] = [];
    for (let i = 0; i < 40; i += 8) {
      const batch = await Promise.all(Array.from({ length: 8 }, (_, j) => request(i + j, `${3 + ((i + j) % 3)}s`)));
      for (const r of batch) {
        assert.equal(r.status, 201, JSON.stringify(r.body));
        short.push(r.body.grant);
      }
    }
    const long = await Promise.all([0, 1].map((i) => request(i, '10m')));
    for (const r of long) assert.equal(r.status, 201, JSON.stringify(r.body));
    const pids = brokers.map((b) => b.proc.pid);

    // Down once the expiry is under way, so that some revocations are cut off mid-flight.
    await waitFor('the first expiry handled', async () => {
      const g = await http(brokers[0]!.url, admin, 'GET', `/v1/grants/${short[0]!.id}`);
      return g.body?.grant?.status === 'revoked' ? true : undefined;
    });
    await storeServer.stop();
    try {
      for (const b of brokers) {
        const r = await waitFor('/readyz to say not ready', async () => {
          const x = await readyz(b);
          return x.status === 200 ? undefined : x;
        });
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.equal(r.body.error.code, 'unavailable');
        assert.match(r.body.error.message, /store is unavailable/);
        const w = await http(b.url, dave, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m', reason: 'during the outage' });
        assert.equal(w.status, 503, JSON.stringify(w.body));
        assert.equal(w.body.error.code, 'unavailable');
        assert.match(w.body.error.message, /^Stint's store is unavailable \(.+\); try again shortly$/);
      }
      // Down past every grant's expiry and past a lease, so that claims taken before the outage lapse.
      const until = Math.max(...short.map((g) => Date.parse(g.expiresAt))) + leaseMs;
      await waitFor('every short grant past its expiry and a lease', async () => (Date.now() > until ? true : undefined));
      for (const b of brokers) assert.equal((await readyz(b)).status, 503, 'still not ready');
    } finally {
      await storeServer.start();
    }

    for (const b of brokers)
      await waitFor('/readyz ready again', async () => {
        const x = await readyz(b);
        return x.status === 200 && x.body.status === 'ready' ? true : undefined;
      });
    assert.deepEqual(
      brokers.map((b) => b.proc.pid),
      pids,
      'the same processes: healed without a restart',
    );
    const store = new pg.Client({ connectionString: storeServer.url('stint_store') });
    await store.connect();
    try {
      const ids = short.map((g) => g.id);
      await waitFor('every expired grant revoked', async () => {
        const r = await store.query(`SELECT count(*)::int AS n FROM grants WHERE id = ANY($1) AND status = 'revoked'`, [ids]);
        return r.rows[0].n === ids.length ? true : undefined;
      });
      const events = (await store.query(`SELECT grant_id, action FROM audit_events WHERE grant_id = ANY($1)`, [ids])).rows;
      let droppedAgain = 0;
      for (const g of short) {
        const mine = events.filter((e) => e.grant_id === g.id).map((e) => e.action);
        assert.equal(mine.filter((a) => a === 'grant.revoking').length, 1, `${g.id}: ${mine.join(' ')}`);
        assert.equal(mine.filter((a) => a === 'grant.revoked').length, 1, `${g.id}: ${mine.join(' ')}`);
        assert.equal(await target.roleExists(g.account), false, `${g.account} gone from the target`);
        const n = drops(g.account);
        // A DROP ROLE sent just before the store went away is sent again by whoever finishes the revocation.
        assert.ok(n === 1 || n === 2, `${g.account} dropped ${n} times`);
        if (n === 2) droppedAgain++;
      }
      for (const r of long) {
        const g = (await store.query(`SELECT status FROM grants WHERE id = $1`, [r.body.grant.id])).rows[0];
        assert.equal(g.status, 'active', 'a grant not yet due is untouched');
        assert.equal(await target.roleExists(r.body.grant.account), true);
      }
      const stuck = (await store.query(`SELECT id, status FROM grants WHERE status NOT IN ('active', 'revoked')`)).rows;
      assert.deepEqual(stuck, [], 'nothing stuck');
      const metricSum = (
        await Promise.all(
          brokers.map(async (b) =>
            (await (await fetch(`${b.url}/metrics`)).text())
              .split('\n')
              .filter((l) => l.startsWith('stint_grants_revoked_total{'))
              .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0),
          ),
        )
      ).reduce((a, b) => a + b, 0);
      assert.equal(metricSum, short.length, 'each revocation counted once across the brokers');
      console.log(`# revocations whose DROP ROLE was sent again after the outage: ${droppedAgain}`);
    } finally {
      await store.end();
    }
    for (const b of brokers) {
      const w = await http(b.url, dave, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m', reason: 'after the outage' });
      assert.equal(w.status, 201, JSON.stringify(w.body));
    }
    const verify = await http(brokers[1]!.url, admin, 'GET', '/v1/audit/verify');
    assert.equal(verify.body.ok, true, JSON.stringify(verify.body));
  });
});
