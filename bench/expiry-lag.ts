// Expiry lag with 1 broker and with 3 brokers (`stint server` child
// processes) on one PostgreSQL store: N short grants requested across the
// brokers with expiries spread over ten seconds; lag is the store's
// revoked_at − expires_at of each (the target's account dropped and the
// revocation committed). Beside it, raw `DROP ROLE` latency on the same
// server in the same run: the floor of one revocation. Goal: p99 < 1 s.
//
//   node --import tsx bench/expiry-lag.ts [--grants N]   (default 300)

import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createTestTarget, type TestTarget } from '../src/testing/broker.js';
import { http, startChildBroker, writeBrokerConfig } from '../src/testing/child-broker.js';
import { createTestDatabase } from '../src/testing/postgres.js';

const { values } = parseArgs({ options: { grants: { type: 'string', default: '300' } } });
const n = Number(values.grants);
setTimeout(() => {
  console.error('expiry-lag: gave up after 20 minutes');
  process.exit(2);
}, 1_200_000).unref();

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const fmt = (xs: number[]) => `p50 ${q(xs, 50).toFixed(1)} ms, p99 ${q(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

async function rawDrop(target: TestTarget): Promise<number[]> {
  const pool = new pg.Pool({ host: target.host, port: target.port, database: target.db.name, user: target.adminUser, password: target.adminPassword, max: 8 });
  const names = Array.from({ length: n }, (_, i) => `lag_${target.suffix}_${i}`);
  for (const name of names) await pool.query(`CREATE ROLE ${pg.escapeIdentifier(name)}`);
  const out: number[] = [];
  const queue = [...names];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        const t = performance.now();
        await pool.query(`DROP ROLE ${pg.escapeIdentifier(name)}`);
        out.push(performance.now() - t);
      }
    }),
  );
  await pool.end();
  return out;
}

async function lag(target: TestTarget, brokers: number): Promise<number[]> {
  const storeDb = await createTestDatabase('lag');
  const root = await mkdtemp(join(tmpdir(), 'stint-lag-'));
  const configPath = await writeBrokerConfig(join(root, 'b0'), target);
  const start = (i: number) => startChildBroker({ configPath, dataDir: join(root, `b${i}`), extraEnv: { STINT_STORE_URL: storeDb.url } });
  const all = [await start(0)];
  all.push(...(await Promise.all(Array.from({ length: brokers - 1 }, (_, i) => start(i + 1)))));
  const store = new pg.Client({ connectionString: storeDb.url });
  await store.connect();
  try {
    const admin = await all[0]!.adminToken();
    const dave = (await http(all[0]!.url, admin, 'POST', '/v1/tokens', { user: 'dave', description: 'bench' })).body.secret as string;
    const ids: string[] = [];
    for (let i = 0; i < n; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, n - i) }, (_, j) =>
          http(all[(i + j) % brokers]!.url, dave, 'POST', '/v1/requests', { profile: 'pg-read', duration: `${20 + ((i + j) % 10)}s`, reason: 'bench' }),
        ),
      );
      for (const r of batch) {
        if (r.status !== 201) throw new Error(`request failed: ${JSON.stringify(r.body)}`);
        ids.push(r.body.grant.id);
      }
    }
    for (;;) {
      const left = (await store.query(`SELECT count(*)::int AS n FROM grants WHERE id = ANY($1) AND status <> 'revoked'`, [ids])).rows[0].n;
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const rows = (await store.query(`SELECT expires_at, revoked_at FROM grants WHERE id = ANY($1)`, [ids])).rows;
    return rows.map((r) => Number(r.revoked_at) - Number(r.expires_at));
  } finally {
    await store.end();
    await Promise.all(all.map((b) => b.stop()));
    await storeDb.drop();
    await rm(root, { recursive: true, force: true });
  }
}

console.log(
  `load average at the start: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
const target = await createTestTarget();
try {
  const raw = await rawDrop(target);
  const one = await lag(target, 1);
  const three = await lag(target, 3);
  console.log(`grants: ${n}, expiries spread over 10 s`);
  console.log(`raw DROP ROLE latency (concurrency 8): ${fmt(raw)}`);
  console.log(`expiry lag, 1 broker:  ${fmt(one)}`);
  console.log(`expiry lag, 3 brokers: ${fmt(three)}`);
  console.log(`p99 lag / raw DROP ROLE p99: 1 broker ${(q(one, 99) / q(raw, 99)).toFixed(1)}×, 3 brokers ${(q(three, 99) / q(raw, 99)).toFixed(1)}×`);
  console.log(
    `load average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await target.drop();
}
