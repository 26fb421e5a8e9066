// Scale: start-up and memory with many grants in the store, expiry lag at a
// steady expiry rate, and draining a storm of simultaneous expiries, each
// against the raw target operation measured in the same run. Prints figures;
// asserts nothing.
//
//   node --expose-gc --import tsx bench/scale.ts [--scale-grants 100000] [--expiry 2000] [--expiry-rate 100]
//        [--drain 10000] [--concurrency 8] [--create-concurrency 16] [--store sqlite|postgres] [--only a,b,c] [--json out.json]
//
// (a) S active grants (expiring 30-330 days out) are inserted straight into the
//     store in transactions of --batch; a broker in a child process is timed
//     from createApp to the first GET /healthz 200, and its RSS read (after GC
//     when --expose-gc is given to the child, which this script does). The same
//     on the empty store is the baseline.
// (b) E grants are requested over HTTP, each with a duration chosen so that
//     expiries are --expiry-rate per second apart; the broker's clock is then
//     moved forward so the first expiry is 3 s away and the expiries arrive
//     steadily in real time (creation does not overlap the expiries). Lag =
//     revokedAt - expiresAt from the grant records.
// (d) D grants (real accounts on the target) are created through the request
//     service in-process (faster than HTTP; every step is the same but the
//     HTTP layer), then the broker's clock is moved so all are due at once and
//     the worker is woken: the drain. GET /v1/grants?all=true&limit=100 is
//     polled every ~50 ms during it. Raw: D × DROP ROLE at broker.revokeConcurrency.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scramSha256Verifier } from '../src/connectors/postgres/scram.js';
import { loadConfigFile } from '../src/config/load.js';
import type { GrantRecord } from '../src/core/types.js';
import { openStore } from '../src/store/index.js';
import { makeGrant } from '../src/store/testing/fixtures.js';
import {
  OffsetClock, commandLine, dropRoleSql, fmt, fmtInt, guardProcess, inTx, intFlag, machineInfo, masterKey, progress, ratio, rawCreateStatements,
  rawSecret, runLoop, sleep, startBenchEnv, startBroker, stats, storeFlag, table, writeJson,
  type BenchBroker, type BenchEnv, type BrokerHome, type Stats,
} from './lib.js';

const { values: flags } = parseArgs({
  options: {
    'scale-grants': { type: 'string' },
    batch: { type: 'string' },
    expiry: { type: 'string' },
    'expiry-rate': { type: 'string' },
    drain: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
    'create-concurrency': { type: 'string' },
    'revoke-concurrency': { type: 'string' },
    store: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
    'time-limit': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (flags.help) {
  process.stdout.write(`node --import tsx bench/scale.ts [options]
  --scale-grants S        grants inserted for the start-up/RSS test (default 100000)
  --batch B               grants per insert transaction (default 1000)
  --expiry E              grants for the expiry-lag test (default 2000)
  --expiry-rate R         expiries per second in the expiry-lag test (default 100)
  --drain D               grants expiring at once in the drain test (default 10000)
  --concurrency C         HTTP concurrency for creating the expiry-lag grants, raw pool size for raw creates (default 8)
  --create-concurrency K  in-process concurrency creating the drain grants (default 16)
  --revoke-concurrency V  broker.revokeConcurrency written to the config (default 8; raw DROP ROLE runs at this)
  --store KIND            sqlite (default) or postgres (second database on the same server)
  --only LIST             run only some parts: a (start/RSS), b (expiry lag), c (drain); default a,b,c
  --json FILE             also write the results as JSON
  --time-limit S          hard stop after S seconds, cleaning up (default 3600)
`);
  process.exit(0);
}

const S = intFlag(flags['scale-grants'], 'scale-grants', 100_000);
const BATCH = intFlag(flags.batch, 'batch', 1000);
const E = intFlag(flags.expiry, 'expiry', 2000);
const RATE = intFlag(flags['expiry-rate'], 'expiry-rate', 100);
const D = intFlag(flags.drain, 'drain', 10_000);
const C = intFlag(flags.concurrency, 'concurrency', 8);
const K = intFlag(flags['create-concurrency'], 'create-concurrency', 16);
const V = intFlag(flags['revoke-concurrency'], 'revoke-concurrency', 8);
const storeKind = storeFlag(flags.store);
const limitMs = intFlag(flags['time-limit'], 'time-limit', 3600) * 1000;
const parts = new Set((flags.only ?? 'a,b,c').split(',').map((s) => s.trim()));

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..');
const MiB = 2 ** 20;

// ---------------------------------------------------------------- (a) start-up and RSS

interface ChildReady {
  url: string;
  createdMs: number;
  listeningMs: number;
  readyMs: number;
  rss: number;
  heapUsed: number;
  gc: boolean;
  spawnToReadyMs: number;
}

interface ChildBroker {
  ready: ChildReady;
  stop(): Promise<void>;
}

async function startChild(home: BrokerHome): Promise<ChildBroker> {
  const t0 = performance.now();
  // STINT_BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the child.
  const extra = (process.env.STINT_BENCH_CHILD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, ['--expose-gc', ...extra, '--import', 'tsx', join(here, 'broker-child.ts')], {
    cwd: repoRoot,
    env: { ...process.env, BENCH_CHILD: JSON.stringify({ configPath: home.configPath, dataDir: home.dataDir, storeUrl: home.storeUrl, masterKey }) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  const ready = await new Promise<ChildReady>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`broker child did not become ready in 300 s: ${stderr.slice(-500)}`)), 300_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += String(d);
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ ...(JSON.parse(buf.slice(0, nl)) as Omit<ChildReady, 'spawnToReadyMs'>), spawnToReadyMs: performance.now() - t0 });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker child exited (${code}): ${stderr.slice(-1000)}`));
    });
  });
  return {
    ready,
    async stop() {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function timeGets(url: string, path: string, token: string, n: number): Promise<Stats> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(60_000) });
    await res.text();
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
    lat.push(performance.now() - s);
  }
  return stats(lat);
}

interface StartMeasure {
  ready: ChildReady;
  listGrants: Stats;
  metrics: Stats;
}

async function measureStart(home: BrokerHome, label: string): Promise<StartMeasure> {
  progress(`(a) starting a broker child process: ${label}`);
  const child = await startChild(home);
  try {
    const { readFile } = await import('node:fs/promises');
    const admin = (await readFile(join(home.dataDir, 'admin.token'), 'utf8')).trim();
    const listGrants = await timeGets(child.ready.url, '/v1/grants?all=true&limit=100', admin, 30);
    const metrics = await timeGets(child.ready.url, '/metrics', admin, 10);
    return { ready: child.ready, listGrants, metrics };
  } finally {
    await child.stop();
  }
}

async function partA(env: BenchEnv) {
  const home = await env.newBrokerHome('scale-a', { revokeConcurrency: V });
  await measureStart(home, 'first start, empty store (not reported)');
  const empty = await measureStart(home, 'restart, empty store');
  progress(`(a) inserting ${S} active grants into the ${storeKind} store in transactions of ${BATCH}`);
  const store = await openStore(home.storeUrl ? { kind: 'postgres', connectionString: home.storeUrl } : { kind: 'sqlite', path: join(home.dataDir, 'stint.db') });
  const insertStart = performance.now();
  try {
    const now = Date.now();
    const day = 86_400_000;
    for (let done = 0; done < S; ) {
      const n = Math.min(BATCH, S - done);
      const base = done;
      await store.transaction(async (tx) => {
        for (let i = 0; i < n; i++) {
          const k = base + i;
          const activatedAt = now - (k % 3600) * 1000;
          await tx.insertGrant(makeGrant({
            // A user the config defines: grants of removed users are revoked at start (orphans), which is not what this measures.
            user: 'alice', profile: 'pg-read', target: 'pg', account: `stint_alice_${k.toString(36).padStart(6, '0')}`, roles: ['app_read'],
            createdAt: activatedAt - 50, activatedAt,
            // Spread far in the future: 30 to 330 days out.
            expiresAt: now + 30 * day + Math.floor(((k * 7919) % S) / S * 300 * day),
            durationMs: 400 * day, maxDurationMs: 400 * day,
          }));
        }
      });
      done += n;
      if (done % Math.max(BATCH, Math.floor(S / 10 / BATCH) * BATCH) === 0 || done === S) progress(`(a) inserted ${done}/${S}`);
    }
  } finally {
    await store.close();
  }
  const insertMs = performance.now() - insertStart;
  const full = await measureStart(home, `restart with ${S} grants`);
  return { empty, full, insertMs, insertRate: (S / insertMs) * 1000 };
}

// ---------------------------------------------------------------- (b) expiry lag

async function partB(b: BenchBroker, clock: OffsetClock) {
  const spacing = 1000 / RATE;
  const t0 = clock.now() + 3_600_000;
  const ids: string[] = new Array<string>(E);
  progress(`(b) requesting ${E} grants over HTTP at concurrency ${C}, expiries ${fmt(spacing, 2)} ms apart`);
  const create = await runLoop(E, C, async (i) => {
    const ms = Math.round(t0 + i * spacing - clock.now());
    const r = await b.http('POST', '/v1/requests', b.aliceToken, { profile: 'pg-read', duration: `${ms}ms`, reason: 'bench expiry' });
    if (r.status !== 201 || r.body?.grant?.status !== 'active') throw new Error(`request: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    ids[i] = r.body.grant.id as string;
  }, { label: '(b) request' });
  const live = new Set(ids.filter(Boolean));
  // Move the broker's clock so the first expiry is 3 s away; the worker sees it within its normal sleep (≤ 1 s).
  clock.offsetMs += t0 - 3000 - clock.now();
  const spanMs = E * spacing;
  progress(`(b) clock moved; ${live.size} grants expire over the next ${fmt(spanMs / 1000)} s`);
  const deadline = performance.now() + 3000 + spanMs + 120_000;
  for (;;) {
    await sleep(500);
    const c = await b.app.store.countGrantsByStatus();
    const open = (c.active ?? 0) + (c.provisioning ?? 0) + (c.revoking ?? 0) + (c['revoke-failing'] ?? 0);
    if (open === 0) break;
    if (performance.now() > deadline) {
      progress(`(b) giving up waiting: ${open} grants still open`);
      break;
    }
  }
  const recs = (await b.app.store.listGrants({})).filter((g) => live.has(g.id));
  const revoked = recs.filter((g) => g.status === 'revoked' && g.revokedAt !== null && g.expiresAt !== null);
  const lags = revoked.map((g) => g.revokedAt! - g.expiresAt!);
  const exp = recs.map((g) => g.expiresAt!).filter((x) => x !== null).sort((x, y) => x - y);
  const achievedRate = exp.length > 1 ? ((exp.length - 1) / (exp[exp.length - 1]! - exp[0]!)) * 1000 : Number.NaN;
  // Cross-check from the audit trail: grant.revoked events for these grants.
  const audit = await b.app.store.listAudit({ action: 'grant.revoked', limit: E * 2 + 100 });
  const auditRevoked = audit.filter((e) => e.grantId && live.has(e.grantId)).length;
  return {
    created: create.ok, createErrors: create.errors, createFirstError: create.firstError, createRate: create.rate,
    revoked: revoked.length, notRevoked: recs.length - revoked.length, notExpiredReason: revoked.filter((g) => g.revokeReason !== 'expired').length,
    achievedRate, lag: stats(lags), auditRevoked,
  };
}

// ---------------------------------------------------------------- (c) drain

async function partC(env: BenchEnv, b: BenchBroker, clock: OffsetClock, home: BrokerHome) {
  const revokeConcurrency = (await loadConfigFile(home.configPath)).broker.revokeConcurrency;
  const alice = b.app.catalog.users.get('alice');
  if (!alice) throw new Error('alice is not in the config');
  const ids: string[] = new Array<string>(D);
  const windows: number[] = [];
  let windowStart = performance.now();
  let made = 0;
  progress(`(c) creating ${D} grants (real accounts) through the request service in-process at concurrency ${K}`);
  const create = await runLoop(D, K, async (i) => {
    const o = await b.app.requests.create({ actor: alice, profile: 'pg-read', durationMs: 3_600_000, reason: 'bench drain', ticket: null });
    if (o.grant?.status !== 'active') throw new Error(`grant not active: ${o.grant?.status}`);
    ids[i] = o.grant.id;
    if (++made % 1000 === 0) {
      const t = performance.now();
      windows.push((1000 / (t - windowStart)) * 1000);
      windowStart = t;
    }
  }, { label: '(c) create', progressEvery: 1000 });
  const live = new Set(ids.filter(Boolean));
  const recs0 = (await b.app.store.listGrants({ statuses: ['active'] })).filter((g) => live.has(g.id));
  const maxExp = Math.max(...recs0.map((g) => g.expiresAt!));
  const minExp = Math.min(...recs0.map((g) => g.expiresAt!));

  // Everything due at once: the clock moves past the last expiry and the worker
  // wakes, as it would when its timer fires at the first of a same-second batch.
  clock.offsetMs += maxExp + 1 - clock.now();
  const jumpFake = clock.now();
  const jumpReal = performance.now();
  progress(`(c) ${live.size} grants due now (their expiresAt spanned ${fmt((maxExp - minExp) / 1000)} s of creation); draining`);
  b.app.worker.wake();

  const pollLat: number[] = [];
  let pollErrors = 0;
  const deadline = jumpReal + Math.max(300_000, D * 100);
  let drained = false;
  let lastReport = jumpReal;
  for (;;) {
    const s = performance.now();
    const r = await b.http('GET', '/v1/grants?all=true&limit=100', b.adminToken).catch(() => null);
    const lat = performance.now() - s;
    if (!r || r.status !== 200) pollErrors++;
    else {
      pollLat.push(lat);
      if (Array.isArray(r.body?.grants) && r.body.grants.length === 0) {
        drained = true;
        break;
      }
    }
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      const c = await b.app.store.countGrantsByStatus();
      progress(`(c) draining: ${c.active ?? 0} active, ${c.revoking ?? 0} revoking, ${c['revoke-failing'] ?? 0} failing, ${c.revoked ?? 0} revoked`);
    }
    if (performance.now() > deadline) break;
    await sleep(Math.max(0, 50 - lat));
  }
  const pollEndReal = performance.now();
  const recs = (await b.app.store.listGrants({})).filter((g) => live.has(g.id));
  const revoked = recs.filter((g): g is GrantRecord & { revokedAt: number } => g.status === 'revoked' && g.revokedAt !== null);
  const toRevoked = revoked.map((g) => g.revokedAt - jumpFake);
  const drainMs = toRevoked.length ? Math.max(...toRevoked) : Number.NaN;
  const retried = recs.filter((g) => g.attempts > 0 || g.failingSince !== null).length;
  const stint = {
    created: create.ok, createErrors: create.errors, createFirstError: create.firstError, createRate: create.rate, createWindows: windows,
    expiresSpreadS: (maxExp - minExp) / 1000,
    drained, revoked: revoked.length, notRevoked: recs.length - revoked.length, retried,
    drainMs, drainRate: (revoked.length / drainMs) * 1000, timeToRevoked: stats(toRevoked),
    pollMs: pollEndReal - jumpReal, poll: stats(pollLat), pollErrors,
  };
  progress(`(c) drain done in ${fmt(drainMs / 1000)} s`);

  // Raw: the same number of roles, created at concurrency C, dropped at the broker's revoke concurrency.
  const createPool = await env.adminPool(C);
  const t = env.target;
  const validUntil = new Date(Date.now() + 3_600_000);
  progress(`(c) raw: creating ${D} roles at concurrency ${C}`);
  const rawCreate = await runLoop(D, C, async (i) => {
    await inTx(createPool, rawCreateStatements(t, `rawd_${i}`, await scramSha256Verifier(rawSecret()), validUntil));
  }, { label: '(c) raw create' });
  const dropPool = await env.adminPool(revokeConcurrency);
  progress(`(c) raw: DROP ROLE ×${D} at concurrency ${revokeConcurrency}`);
  const rawDrop = await runLoop(D, revokeConcurrency, async (i) => {
    await dropPool.query(dropRoleSql(`rawd_${i}`));
  }, { label: '(c) raw drop' });
  return {
    stint, revokeConcurrency,
    raw: { createRate: rawCreate.rate, createErrors: rawCreate.errors, dropRate: rawDrop.rate, dropMs: rawDrop.wallMs, dropErrors: rawDrop.errors, dropFirstError: rawDrop.firstError, drop: stats(rawDrop.latencies) },
  };
}

// ---------------------------------------------------------------- main

async function main() {
  let env: BenchEnv | undefined;
  let broker: BenchBroker | undefined;
  const guard = guardProcess(async () => {
    await broker?.close().catch(() => {});
    await env?.destroy();
  }, limitMs);
  const started = performance.now();
  try {
    env = await startBenchEnv(storeKind);
    const a = parts.has('a') ? await partA(env) : null;
    let bRes: Awaited<ReturnType<typeof partB>> | null = null;
    let cRes: Awaited<ReturnType<typeof partC>> | null = null;
    let problems = { warnings: 0, errors: 0, firstProblem: null as string | null };
    if (parts.has('b') || parts.has('c')) {
      const home = await env.newBrokerHome('scale-bc', { revokeConcurrency: V, maxDuration: '8h' });
      const clock = new OffsetClock();
      progress('(b/c) starting an in-process broker (createApp + listen)');
      broker = await startBroker(home, { clock });
      if (parts.has('b')) bRes = await partB(broker, clock);
      if (parts.has('c')) cRes = await partC(env, broker, clock, home);
      problems = await broker.close();
      broker = undefined;
    }
    const out = report(a, bRes, cRes, problems, (performance.now() - started) / 1000);
    process.stdout.write(out.text);
    await writeJson(flags.json, out.summary);
  } finally {
    await broker?.close().catch(() => {});
    await env?.destroy();
    guard.done();
  }
}

function report(
  a: Awaited<ReturnType<typeof partA>> | null,
  b: Awaited<ReturnType<typeof partB>> | null,
  c: Awaited<ReturnType<typeof partC>> | null,
  problems: { warnings: number; errors: number; firstProblem: string | null },
  wallS: number,
) {
  const m = machineInfo();
  const L: string[] = [''];
  L.push(`== Stint scale (store ${storeKind})`);
  L.push(`machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memGiB} GiB, ${m.os}, node ${m.node}`);
  L.push(`command: ${commandLine()}`);
  if (a) {
    L.push('');
    L.push(`(a) broker start-up and memory with ${fmtInt(S)} active grants in the store (inserted at ${fmtInt(a.insertRate)}/s, ${fmt(a.insertMs / 1000)} s)`);
    const r = (label: string, f: (x: StartMeasure) => number, digits = 1) => [label, fmt(f(a.empty), digits), fmt(f(a.full), digits), ratio(f(a.full), f(a.empty))];
    L.push(table([
      ['', 'empty store', `${fmtInt(S)} grants`, 'ratio'],
      r('createApp, ms', (x) => x.ready.createdMs),
      r('createApp + listen + first /healthz 200, ms', (x) => x.ready.readyMs),
      r('process spawn to ready (incl. node + tsx), ms', (x) => x.ready.spawnToReadyMs, 0),
      r(`RSS${a.full.ready.gc ? ' after GC' : ' (no GC)'}, MiB`, (x) => x.ready.rss / MiB),
      r('heap used, MiB', (x) => x.ready.heapUsed / MiB),
      r('GET /v1/grants?all=true&limit=100 p50, ms', (x) => x.listGrants.p50, 2),
      r('GET /v1/grants?all=true&limit=100 p99, ms', (x) => x.listGrants.p99, 2),
      r('GET /metrics p50, ms', (x) => x.metrics.p50, 2),
    ]));
  }
  if (b) {
    L.push('');
    L.push(`(b) expiry lag at a steady ${RATE} expiries/s: ${b.created} grants requested over HTTP (${fmt(b.createRate)}/s at concurrency ${C}${b.createErrors ? `, ${b.createErrors} errors: ${b.createFirstError}` : ''})`);
    L.push(`    achieved expiry rate ${fmt(b.achievedRate)}/s; revoked ${b.revoked} (${b.notRevoked} not revoked, ${b.notExpiredReason} with another reason); audit grant.revoked events: ${b.auditRevoked}`);
    L.push(table([
      ['lag = revokedAt - expiresAt', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms'],
      ['expiry lag', fmt(b.lag.p50), fmt(b.lag.p90), fmt(b.lag.p99), fmt(b.lag.max), fmt(b.lag.mean)],
    ]));
  }
  if (c) {
    const s = c.stint;
    L.push('');
    L.push(`(c) drain: ${s.created} grants (real accounts) created via the request service in-process at concurrency ${K}: ${fmt(s.createRate)}/s` +
      `${s.createErrors ? ` (${s.createErrors} errors: ${s.createFirstError})` : ''}; raw CREATE ROLE+GRANT of as many at concurrency ${C}: ${fmt(c.raw.createRate)}/s (${ratio(c.raw.createRate, s.createRate)})`);
    if (s.createWindows.length > 1) L.push(`    creation rate per 1000 grants, first → last: ${s.createWindows.map((x) => fmt(x, 0)).join(', ')} /s`);
    L.push(`    all due at once (broker clock moved past the last expiresAt); revoked ${s.revoked}, not revoked ${s.notRevoked}, needed a retry ${s.retried}${s.drained ? '' : ' — DID NOT FINISH before the deadline'}`);
    L.push(table([
      ['drain', `Stint (revokeConcurrency ${c.revokeConcurrency})`, `raw DROP ROLE (concurrency ${c.revokeConcurrency})`, 'raw/Stint'],
      ['time to remove all, s', fmt(s.drainMs / 1000, 2), fmt(c.raw.dropMs / 1000, 2), ratio(s.drainMs, c.raw.dropMs).replace('x', 'x longer')],
      ['rate, grants/s', fmt(s.drainRate), fmt(c.raw.dropRate), ratio(c.raw.dropRate, s.drainRate)],
    ]));
    L.push(`    time from due to revoked per grant: p50 ${fmt(s.timeToRevoked.p50 / 1000, 2)} s, p99 ${fmt(s.timeToRevoked.p99 / 1000, 2)} s, max ${fmt(s.timeToRevoked.max / 1000, 2)} s`);
    L.push(`    API during the drain: ${s.poll.n} × GET /v1/grants?all=true&limit=100 (admin) every ~50 ms: p50 ${fmt(s.poll.p50)} ms, p99 ${fmt(s.poll.p99)} ms, max ${fmt(s.poll.max)} ms, errors ${s.pollErrors}`);
    if (c.raw.dropErrors) L.push(`    raw drop errors: ${c.raw.dropErrors}, first: ${c.raw.dropFirstError}`);
  }
  L.push('');
  L.push(`broker log (b/c): ${problems.errors} error and ${problems.warnings} warning lines${problems.firstProblem ? ` (first: ${problems.firstProblem})` : ''}`);
  L.push('notes: clients run in the broker\'s process (b, c) and share its 2 cores; the broker\'s target connector pool holds 4 connections;');
  L.push('       Stint revocation = advisory lock, NOLOGIN, session termination, REASSIGN/DROP OWNED, DROP ROLE, and two store transactions with audit.');
  L.push('       Embedded PostgreSQL runs with fsync=off.');
  L.push(`wall time: ${fmt(wallS, 0)} s`);
  L.push('');
  return {
    text: L.join('\n') + '\n',
    summary: {
      bench: 'scale', store: storeKind, machine: m, command: commandLine(),
      params: { scaleGrants: S, batch: BATCH, expiry: E, expiryRate: RATE, drain: D, concurrency: C, createConcurrency: K, revokeConcurrency: V },
      a, b, c, brokerLog: problems, wallS,
    },
  };
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`scale failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
