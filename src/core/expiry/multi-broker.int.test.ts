// Three full brokers (`stint server` child processes) sharing one PostgreSQL
// store, in front of one PostgreSQL target reached through a relay that
// records every statement the target receives. Each grant's account must be
// dropped on the target once, revoked once in the store and the audit, and
// counted once in the brokers' metrics summed; with two brokers SIGKILLed
// while grants expire, the survivor finishes, and after their restart nothing
// is done twice and the audit chain verifies. Never asserts on time: it waits
// for conditions, with deadlines that only bound a failure.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { createTestTarget, type TestTarget } from '../../testing/broker.js';
import { http, startChildBroker, writeBrokerConfig, type ChildBroker } from '../../testing/child-broker.js';
import { createTestDatabase, type TestDatabase } from '../../testing/postgres.js';
import { startStatementCounter, type StatementCounter } from '../../testing/pg-statement-counter.js';

const bin = fileURLToPath(new URL('../../../bin/stint.js', import.meta.url));
const run = promisify(execFile);
const grantsFirst = 300;
const grantsKilled = 100;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 600_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('three brokers on one PostgreSQL store', { timeout: 1_800_000 }, () => {
  let target: TestTarget;
  let storeDb: TestDatabase;
  let store: pg.Client;
  let counter: StatementCounter;
  let root: string;
  let configPath: string;
  const brokers: ChildBroker[] = [];
  let admin: string;
  let dave: string;
  const env = () => ({ STINT_STORE_URL: storeDb.url });
  const start = (name: string) => startChildBroker({ configPath, dataDir: join(root, name), extraEnv: env() });

  before(async () => {
    target = await createTestTarget();
    storeDb = await createTestDatabase('store');
    counter = await startStatementCounter({ host: target.host, port: target.port });
    root = await mkdtemp(join(tmpdir(), 'stint-3b-'));
    configPath = await writeBrokerConfig(join(root, 'a'), target, { port: counter.port });
    // The first broker migrates the store and issues the admin token; the others start together.
    brokers.push(await start('a'));
    brokers.push(...(await Promise.all([start('b'), start('c')])));
    admin = await brokers[0]!.adminToken();
    const t = await http(brokers[0]!.url, admin, 'POST', '/v1/tokens', { user: 'dave', description: 'multi-broker test' });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    dave = t.body.secret;
    store = new pg.Client({ connectionString: storeDb.url });
    await store.connect();
  });

  after(async () => {
    await Promise.all(brokers.map((b) => b.stop()));
    await store?.end();
    await counter?.close();
    await target?.drop();
    await storeDb?.drop();
    await rm(root, { recursive: true, force: true });
  });

  const drops = (account: string) => counter.statements().filter((s) => s.includes(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(account)}`)).length;
  const revokedIds = async () => (await store.query(`SELECT id FROM grants WHERE status = 'revoked'`)).rows.map((r) => r.id as string);

  async function requestAcross(n: number, duration: string, from: ChildBroker[]): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, n - i) }, (_, j) =>
          http(from[(i + j) % from.length]!.url, dave, 'POST', '/v1/requests', { profile: 'pg-read', duration, reason: 'multi-broker test' }),
        ),
      );
      for (const r of batch) {
        assert.equal(r.status, 201, JSON.stringify(r.body));
        assert.equal(r.body.grant.status, 'active');
        ids.push(r.body.grant.id);
      }
    }
    return ids;
  }

  async function revokedEvents(): Promise<Map<string, { count: number; broker: string }>> {
    const rows = (await store.query(`SELECT grant_id, details FROM audit_events WHERE action = 'grant.revoked'`)).rows;
    const out = new Map<string, { count: number; broker: string }>();
    for (const r of rows) out.set(r.grant_id, { count: (out.get(r.grant_id)?.count ?? 0) + 1, broker: JSON.parse(r.details).broker });
    return out;
  }

  it('know each other: /v1/brokers, `stint brokers --json`, /readyz', async () => {
    const listed = await http(brokers[1]!.url, admin, 'GET', '/v1/brokers');
    assert.equal(listed.status, 200);
    assert.equal(listed.body.brokers.length, 3);
    assert.equal(listed.body.configDigests, 1, 'one config file');
    assert.deepEqual(listed.body.brokers.map((b: { address: string }) => b.address).sort(), brokers.map((b) => b.url).sort());
    assert.equal(listed.body.brokers.filter((b: { self: boolean }) => b.self).length, 1);
    const forbidden = await http(brokers[1]!.url, dave, 'GET', '/v1/brokers');
    assert.equal(forbidden.status, 403);
    const cli = await run(process.execPath, [bin, 'brokers', '--json', '--server', brokers[2]!.url, '--token-file', join(root, 'a', 'admin.token')]);
    assert.equal(JSON.parse(cli.stdout).brokers.length, 3);
    for (const b of brokers) {
      const r = await fetch(`${b.url}/readyz`);
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { status: string }).status, 'ready');
    }
  });

  it(`${grantsFirst} grants requested across the three: each account dropped on the target once, revoked once, counted once`, async () => {
    const ids = await requestAcross(grantsFirst, '3s', brokers);
    await waitFor('every grant revoked', async () => ((await revokedIds()).length >= grantsFirst ? true : undefined));
    const grants = (await store.query(`SELECT id, account, status FROM grants WHERE id = ANY($1)`, [ids])).rows;
    assert.equal(grants.length, grantsFirst);
    const events = await revokedEvents();
    for (const g of grants) {
      assert.equal(g.status, 'revoked');
      assert.equal(drops(g.account), 1, `${g.account} dropped on the target exactly once`);
      assert.equal(events.get(g.id)?.count, 1, `one grant.revoked for ${g.id}`);
      assert.equal(await target.roleExists(g.account), false);
    }
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
    assert.equal(metricSum, grantsFirst, 'stint_grants_revoked_total summed over the brokers counts each revocation once');
    const by = new Map<string, number>();
    for (const e of events.values()) by.set(e.broker, (by.get(e.broker) ?? 0) + 1);
    console.log(`# revocations by broker: ${JSON.stringify(Object.fromEntries(by))}`);
  });

  it(`SIGKILL two brokers while ${grantsKilled} grants expire: the survivor finishes; after their restart nothing is done twice and the audit verifies`, async () => {
    const ids = await requestAcross(grantsKilled, '5s', brokers);
    // Kill once the expiry is under way, so that some revocations are in the hands of the killed brokers.
    await waitFor('the first of them revoked', async () => {
      const r = await store.query(`SELECT count(*)::int AS n FROM grants WHERE id = ANY($1) AND status IN ('revoking', 'revoked')`, [ids]);
      return r.rows[0].n > 0 ? true : undefined;
    });
    for (const b of brokers.slice(1)) b.proc.kill('SIGKILL');
    await Promise.all(brokers.slice(1).map((b) => b.exited));
    await waitFor('the survivor revoked every grant', async () => {
      const r = await store.query(`SELECT count(*)::int AS n FROM grants WHERE id = ANY($1) AND status = 'revoked'`, [ids]);
      return r.rows[0].n === grantsKilled ? true : undefined;
    });
    brokers.splice(1, 2, ...(await Promise.all([start('b'), start('c')])));
    // The restarted brokers have run their startup recovery and an expiry pass once they list themselves.
    await waitFor('three brokers listed again', async () => {
      const r = await http(brokers[0]!.url, admin, 'GET', '/v1/brokers');
      return r.body?.brokers?.length === 3 ? true : undefined;
    });
    const events = await revokedEvents();
    const revoking = (await store.query(`SELECT grant_id, details FROM audit_events WHERE action = 'grant.revoking' AND grant_id = ANY($1)`, [ids])).rows;
    const markedBy = new Map(revoking.map((r) => [r.grant_id as string, JSON.parse(r.details).broker as string]));
    assert.equal(revoking.length, grantsKilled, 'one grant.revoking per grant');
    const grants = (await store.query(`SELECT id, account, status FROM grants WHERE id = ANY($1)`, [ids])).rows;
    let takenOver = 0;
    for (const g of grants) {
      assert.equal(g.status, 'revoked');
      assert.equal(events.get(g.id)?.count, 1, `one grant.revoked for ${g.id}`);
      assert.equal(await target.roleExists(g.account), false);
      const n = drops(g.account);
      // A killed broker may have sent its DROP ROLE and died before it committed: the one taking over sends it again.
      if (n === 2) assert.notEqual(markedBy.get(g.id), events.get(g.id)!.broker, `${g.account} dropped twice only when a killed broker's work was taken over`);
      else assert.equal(n, 1, `${g.account} dropped once`);
      if (markedBy.get(g.id) !== events.get(g.id)!.broker) takenOver++;
    }
    console.log(`# revocations taken over from killed brokers: ${takenOver}`);
    for (const b of brokers) {
      const v = await run(process.execPath, [bin, 'audit', 'verify', '--json', '--server', b.url, '--token-file', join(root, 'a', 'admin.token')]);
      assert.equal(JSON.parse(v.stdout).ok, true, v.stdout);
    }
  });
});
