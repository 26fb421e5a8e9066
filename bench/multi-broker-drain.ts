// Drain of N grants due at once with 1 broker vs 3 brokers on one PostgreSQL
// store, as a ratio to raw DROP ROLE of N roles (concurrency 8) on the same
// server; the target receives its statements through a relay that counts
// DROP ROLE per account (src/testing/pg-statement-counter.ts), which must equal
// N exactly. The brokers run in this process (createApp, each with its own
// store pool and broker id): on a 2-core machine they share the cores anyway.
//
//   node --import tsx bench/multi-broker-drain.ts [--grants N]   (default 500)

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApp, type App } from '../src/app.js';
import { createLogger } from '../src/log.js';
import { createTestTarget, testConfigYaml } from '../src/testing/broker.js';
import { startStatementCounter } from '../src/testing/pg-statement-counter.js';
import { createTestDatabase } from '../src/testing/postgres.js';

const { values } = parseArgs({ options: { grants: { type: 'string', default: '500' } } });
const n = Number(values.grants);
const target = await createTestTarget();
const counter = await startStatementCounter({ host: target.host, port: target.port });
const root = await mkdtemp(join(tmpdir(), 'stint-drain-'));
const secretFile = join(root, 'pg.secret');
await writeFile(secretFile, target.adminPassword, { mode: 0o600 });
const configPath = join(root, 'stint.yaml');
await writeFile(configPath, testConfigYaml(target, secretFile, { port: counter.port }));
const env = { STINT_MASTER_KEY: Buffer.alloc(32, 3).toString('base64') };

async function rawDrop(): Promise<number> {
  const names = Array.from({ length: n }, (_, i) => `raw_${target.suffix}_${i}`);
  // Made by the admin Stint uses (CREATEROLE), which on PostgreSQL 16+ is what may drop them.
  const pool = new pg.Pool({ host: target.host, port: target.port, database: target.db.name, user: target.adminUser, password: target.adminPassword, max: 8 });
  for (const name of names) await pool.query(`CREATE ROLE ${pg.escapeIdentifier(name)}`);
  const queue = [...names];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let name = queue.shift(); name; name = queue.shift()) await pool.query(`DROP ROLE ${pg.escapeIdentifier(name)}`);
    }),
  );
  const ms = performance.now() - started;
  await pool.end();
  return ms;
}

async function drain(brokers: number): Promise<{ ms: number; drops: number }> {
  const storeDb = await createTestDatabase('drain');
  const apps: App[] = [];
  for (let i = 0; i < brokers; i++)
    apps.push(
      await createApp({
        configPath,
        dataDir: join(root, `b${brokers}-${i}`),
        storeUrl: storeDb.url,
        env,
        brokerId: `bench-${i}`,
        logger: createLogger({ level: 'error' }),
      }),
    );
  const token = (await apps[0]!.tokens.issue('dave', 'bench', 'bench')).secret;
  const store = new pg.Client({ connectionString: storeDb.url });
  await store.connect();
  const accounts: string[] = [];
  for (let i = 0; i < n; i += 8) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(8, n - i) }, () =>
        apps[0]!.api.inject({
          method: 'POST',
          url: '/v1/requests',
          headers: { authorization: `Bearer ${token}` },
          payload: { profile: 'pg-read', duration: '1h', reason: 'bench' },
        }),
      ),
    );
    for (const r of batch) accounts.push((r.json() as { grant: { account: string } }).grant.account);
  }
  const before = counter.statements().length;
  // All due at once; every broker looks now.
  const started = performance.now();
  await store.query(`UPDATE grants SET expires_at = $1 WHERE status = 'active'`, [Date.now()]);
  for (const a of apps) a.worker.wake();
  for (;;) {
    const left = (await store.query(`SELECT count(*)::int AS n FROM grants WHERE status <> 'revoked'`)).rows[0].n;
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - started;
  const after = counter.statements().slice(before);
  const drops = accounts.reduce((sum, a) => sum + after.filter((s) => s.includes(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(a)}`)).length, 0);
  await store.end();
  await Promise.all(apps.map((a) => a.close()));
  await storeDb.drop();
  return { ms, drops };
}

const raw = await rawDrop();
const one = await drain(1);
const three = await drain(3);
const rate = (ms: number) => `${Math.round((n / ms) * 1000)}/s`;
console.log(`grants: ${n}`);
console.log(`raw DROP ROLE (concurrency 8): ${Math.round(raw)} ms, ${rate(raw)}`);
console.log(`1 broker:  ${Math.round(one.ms)} ms, ${rate(one.ms)} (${(raw / one.ms).toFixed(2)}× raw), DROP ROLE on the target: ${one.drops}`);
console.log(`3 brokers: ${Math.round(three.ms)} ms, ${rate(three.ms)} (${(raw / three.ms).toFixed(2)}× raw), DROP ROLE on the target: ${three.drops}`);
console.log(`3 brokers / 1 broker: ${(one.ms / three.ms).toFixed(2)}×`);
await counter.close();
await target.drop();
await rm(root, { recursive: true, force: true });
process.exit(one.drops === n && three.drops === n ? 0 : 1);
