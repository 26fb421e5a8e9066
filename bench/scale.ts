// Scale: one broker with S active grants in its store — start-up and memory,
// expiry lag at a steady expiry rate, and draining a storm of simultaneous
// expiries against the raw target operation measured in the same run. Prints
// figures; asserts nothing.
//
//   node --import tsx bench/scale.ts [--scale-grants 100000] [--expiry 2000] [--expiry-rate 100]
//        [--drain 10000] [--concurrency 8] [--revoke-concurrency 8] [--store sqlite|postgres] [--json out.json]
//
// The broker runs in a child process (bench/broker-child.ts) on a clock the
// benchmark can move forward; the HTTP client here uses node:http.
//
// (a) Start-up and RSS. A broker is started on the empty store (baseline);
//     then S active grants of user alice (expiring 30-330 days out; their
//     accounts do not exist, nothing reads them) are inserted straight into the
//     store, and the broker is started again, timed from createApp to the first
//     GET /healthz 200; RSS after GC. That broker, with the S grants in its
//     store, runs (b) and (c).
// (b) Expiry lag. E grants of user bob are requested over HTTP, their durations
//     chosen so that their expiries are 1/RATE s apart; the broker's clock is
//     then moved so that the first is 3 s away, and they expire steadily in real
//     time. Lag = revokedAt - expiresAt, from the grant records.
// (c) Drain. D accounts are made on the target directly (as its superuser, in
//     the state Stint's createAccount leaves them: through the admin, creating
//     10k roles takes PostgreSQL 16+ many minutes, see makeRoles) and D active
//     grants of bob for them written into the store; the clock is moved past
//     their expiry and the worker woken: all D are due at once. GET
//     /v1/grants?all=true&limit=100 is polled every ~50 ms meanwhile. Raw: as
//     many roles made the same way, D × DROP ROLE at broker.revokeConcurrency.

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { scramSha256Verifier } from '../src/connectors/postgres/scram.js';
import { createPgPool } from '../src/pg-pool.js';
import { openStore } from '../src/store/index.js';
import { makeGrant } from '../src/store/testing/fixtures.js';
import {
  commandLine,
  dropRoleSql,
  fmt,
  fmtInt,
  guardProcess,
  httpClient,
  intFlag,
  machineInfo,
  progress,
  ratio,
  rawSecret,
  runLoop,
  sleep,
  startBenchEnv,
  startChildBroker,
  stats,
  storeFlag,
  table,
  writeJson,
  type BenchEnv,
  type BrokerHome,
  type ChildBroker,
  type ChildReady,
  type Stats,
} from './lib.js';

const { values: flags } = parseArgs({
  options: {
    'scale-grants': { type: 'string' },
    batch: { type: 'string' },
    expiry: { type: 'string' },
    'expiry-rate': { type: 'string' },
    drain: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
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
  --scale-grants S        active grants in the store (default 100000)
  --batch B               grants per insert transaction (default 2000)
  --expiry E              grants for the expiry-lag test (default 2000)
  --expiry-rate R         expiries per second in the expiry-lag test (default 100)
  --drain D               grants expiring at once in the drain test (default 10000)
  --concurrency C         HTTP concurrency creating the expiry-lag grants; raw pool size for raw creates (default 8)
  --revoke-concurrency V  broker.revokeConcurrency written to the config (default 8; raw DROP ROLE runs at this)
  --store KIND            sqlite (default) or postgres (second database on the same server)
  --only LIST             run only some parts: a (start/RSS), b (expiry lag), c (drain); default a,b,c
  --json FILE             also write the results as JSON
  --time-limit S          hard stop after S seconds, cleaning up (default 3600)
`);
  process.exit(0);
}

const S = intFlag(flags['scale-grants'], 'scale-grants', 100_000, 0);
const BATCH = intFlag(flags.batch, 'batch', 2000);
const E = intFlag(flags.expiry, 'expiry', 2000);
const RATE = intFlag(flags['expiry-rate'], 'expiry-rate', 100);
const D = intFlag(flags.drain, 'drain', 10_000);
const C = intFlag(flags.concurrency, 'concurrency', 8);
const V = intFlag(flags['revoke-concurrency'], 'revoke-concurrency', 8);
const storeKind = storeFlag(flags.store);
const limitMs = intFlag(flags['time-limit'], 'time-limit', 3600) * 1000;
const parts = new Set((flags.only ?? 'a,b,c').split(',').map((s) => s.trim()));

const MiB = 2 ** 20;
const liveStatuses = ['provisioning', 'active', 'revoking', 'revoke-failing'];

interface GrantRow {
  id: string;
  status: string;
  expiresAt: number | null;
  revokedAt: number | null;
  revokeReason: string | null;
  attempts: number;
  failingSince: number | null;
}

interface Broker {
  child: ChildBroker;
  http: ReturnType<typeof httpClient>;
  bobToken: string;
}

async function openBroker(home: BrokerHome, label: string): Promise<Broker> {
  progress(`starting a broker child process: ${label}`);
  const child = await startChildBroker(home, { offsetClock: true });
  const http = httpClient(child.ready.url, Math.max(C, 4));
  const tok = await http.request('POST', '/v1/tokens', child.adminToken, { user: 'bob' });
  if (tok.status !== 201) throw new Error(`could not issue a token for bob: ${tok.status} ${JSON.stringify(tok.body)}`);
  return { child, http, bobToken: (tok.body as { secret: string }).secret };
}

async function closeBroker(b: Broker) {
  b.http.close();
  return b.child.close();
}

async function timeGets(b: Broker, path: string, token: string, n: number): Promise<Stats> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const r = await b.http.request('GET', path, token);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status}`);
    lat.push(performance.now() - s);
  }
  return stats(lat);
}

interface StartMeasure {
  ready: ChildReady;
  listGrants: Stats;
  metrics: Stats;
}

async function measureStart(b: Broker): Promise<StartMeasure> {
  const listGrants = await timeGets(b, '/v1/grants?all=true&limit=100', b.child.adminToken, 30);
  const metrics = await timeGets(b, '/metrics', b.child.adminToken, 10);
  return { ready: b.child.ready, listGrants, metrics };
}

/** bob's grants that are not revoked yet (an index range: the S grants are alice's); with a limit, at most that many are read. */
async function openOf(b: Broker, limit?: number): Promise<number> {
  return b.child.call<number>('live', { user: 'bob', limit });
}

// ---------------------------------------------------------------- (a) start-up and RSS

async function partA(home: BrokerHome) {
  const first = await openBroker(home, 'first start, empty store (not reported)');
  await closeBroker(first);
  const e = await openBroker(home, 'restart, empty store');
  const empty = await measureStart(e);
  await closeBroker(e);
  progress(`(a) inserting ${fmtInt(S)} active grants into the ${storeKind} store in transactions of ${BATCH}`);
  const store = await openStore(
    home.storeUrl ? { kind: 'postgres', connectionString: home.storeUrl } : { kind: 'sqlite', path: join(home.dataDir, 'stint.db') },
  );
  const insertStart = performance.now();
  try {
    const now = Date.now();
    const day = 86_400_000;
    for (let done = 0; done < S;) {
      const n = Math.min(BATCH, S - done);
      const base = done;
      await store.transaction(async (tx) => {
        for (let i = 0; i < n; i++) {
          const k = base + i;
          const activatedAt = now - (k % 3600) * 1000;
          await tx.insertGrant(
            makeGrant({
              // A user the config defines: grants of removed users are revoked at start (orphans), which is not what this measures.
              user: 'alice',
              profile: 'pg-read',
              target: 'pg',
              account: `stint_alice_${k.toString(36).padStart(6, '0')}`,
              roles: ['app_read'],
              createdAt: activatedAt - 50,
              activatedAt,
              // Spread far in the future: 30 to 330 days out.
              expiresAt: now + 30 * day + Math.floor((((k * 7919) % S) / S) * 300 * day),
              durationMs: 400 * day,
              maxDurationMs: 400 * day,
            }),
          );
        }
      });
      done += n;
      if (done % Math.max(BATCH, Math.floor(S / 10 / BATCH) * BATCH) === 0 || done === S) progress(`(a) inserted ${fmtInt(done)}/${fmtInt(S)}`);
    }
  } finally {
    await store.close();
  }
  const insertMs = performance.now() - insertStart;
  const b = await openBroker(home, `restart with ${fmtInt(S)} grants`);
  const full = await measureStart(b);
  return { result: { empty, full, insertMs, insertRate: (S / insertMs) * 1000 }, broker: b };
}

// ---------------------------------------------------------------- (b) expiry lag

async function partB(b: Broker) {
  const spacing = 1000 / RATE;
  const clock0 = await b.child.call<number>('now');
  const skew = clock0 - Date.now();
  const t0 = Date.now() + skew + 3_600_000;
  const ids: string[] = new Array<string>(E);
  progress(`(b) requesting ${E} grants over HTTP at concurrency ${C}, expiries ${fmt(spacing, 2)} ms apart`);
  const create = await runLoop(
    E,
    C,
    async (i) => {
      const ms = Math.round(t0 + i * spacing - (Date.now() + skew));
      const r = await b.http.request('POST', '/v1/requests', b.bobToken, { profile: 'pg-read', duration: `${ms}ms`, reason: 'bench expiry' });
      if (r.status !== 201 || r.body?.grant?.status !== 'active') throw new Error(`request: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      ids[i] = r.body.grant.id as string;
    },
    { label: '(b) request' },
  );
  const live = ids.filter(Boolean);
  // Move the broker's clock so that the first expiry is 3 s away; the worker's timer (≤ 1 s) notices.
  const now = await b.child.call<number>('now');
  await b.child.call('offset', { ms: t0 - 3000 - now });
  const spanMs = E * spacing;
  progress(`(b) clock moved; ${live.length} grants expire over the next ${fmt(spanMs / 1000)} s`);
  const deadline = performance.now() + 3000 + spanMs + 120_000;
  for (;;) {
    await sleep(500);
    const open = await openOf(b, 1);
    if (open === 0) break;
    if (performance.now() > deadline) {
      progress(`(b) giving up waiting: ${open} grants still open`);
      break;
    }
  }
  const recs = await b.child.call<GrantRow[]>('grants', { ids: live });
  const revoked = recs.filter((g) => g.status === 'revoked' && g.revokedAt !== null && g.expiresAt !== null);
  const lags = revoked.map((g) => g.revokedAt! - g.expiresAt!);
  const exp = recs
    .map((g) => g.expiresAt)
    .filter((x): x is number => x !== null)
    .sort((x, y) => x - y);
  const achievedRate = exp.length > 1 ? ((exp.length - 1) / (exp[exp.length - 1]! - exp[0]!)) * 1000 : Number.NaN;
  return {
    created: create.ok,
    createErrors: create.errors,
    createFirstError: create.firstError,
    createRate: create.rate,
    revoked: revoked.length,
    notRevoked: recs.length - revoked.length,
    notExpiredReason: revoked.filter((g) => g.revokeReason !== 'expired').length,
    achievedRate,
    lag: stats(lags),
  };
}

// ---------------------------------------------------------------- (c) drain

/**
 * D login roles made directly as the target's superuser, in the state a
 * CREATEROLE admin's own CREATE ROLE … IN ROLE marker, app_read leaves them
 * (the admin holds ADMIN OPTION on each, without INHERIT or SET), which is also what Stint's
 * createAccount leaves. Fast: as a superuser none of PostgreSQL's
 * per-statement checks of the admin's memberships run, which, for the admin
 * itself, grow with every role it manages.
 */
async function makeRoles(env: BenchEnv, names: string[], marker: string) {
  const { default: pg } = await import('pg');
  const id = pg.escapeIdentifier;
  const t = env.target;
  const su = createPgPool({ connectionString: env.server.url(t.database), max: 4 });
  try {
    const verifier = await scramSha256Verifier(rawSecret());
    const until = new Date(Date.now() + 8 * 3_600_000).toISOString();
    await runLoop(names.length, 4, async (i) => {
      const w = id(names[i]!);
      await su.query(
        `CREATE ROLE ${w} LOGIN PASSWORD ${pg.escapeLiteral(verifier)} VALID UNTIL ${pg.escapeLiteral(until)} IN ROLE ${id(marker)}, ${id(t.readRole)};` +
          `GRANT ${w} TO ${id(t.adminUser)} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`,
      );
    });
  } finally {
    await su.end();
  }
}

async function partC(env: BenchEnv, b: Broker) {
  const t = env.target;
  const accounts = Array.from({ length: D }, (_, i) => `stint_bob_d${i.toString(36).padStart(5, '0')}`);
  progress(`(c) making ${fmtInt(D)} accounts on the target (as its superuser, in the state Stint's createAccount leaves them)`);
  // The marker exists once the broker made an account; if (b) did not run, the admin makes it, as the connector would.
  const { default: pg } = await import('pg');
  const admin = await env.adminPool(1);
  await admin.query(`CREATE ROLE ${pg.escapeIdentifier(t.marker)} NOLOGIN`).catch(() => {});
  const setupStart = performance.now();
  await makeRoles(env, accounts, t.marker);
  const now = await b.child.call<number>('now');
  const expiresAt = now + 3_600_000;
  const ids = await b.child.call<string[]>('adopt', { accounts, user: 'bob', expiresAt });
  const setupS = (performance.now() - setupStart) / 1000;
  progress(`(c) ${fmtInt(ids.length)} active grants for them in the store (${fmt(setupS)} s); moving the clock past their expiry`);

  // Everything due at once: the clock moves past their expiry and the worker
  // wakes, as it would when its timer fires at the first of a same-second batch.
  await b.child.call('inflight', { reset: true });
  await b.child.call('offset', { ms: expiresAt + 1 - now });
  const jumpFake = await b.child.call<number>('now');
  const jumpReal = performance.now();
  await b.child.call('wake');

  const pollLat: number[] = [];
  let pollErrors = 0;
  const deadline = jumpReal + Math.max(1_800_000, D * 300);
  let drained = false;
  let lastCheck = jumpReal;
  let lastReport = jumpReal;
  for (;;) {
    const s = performance.now();
    const r = await b.http.request('GET', '/v1/grants?all=true&limit=100', b.child.adminToken).catch(() => null);
    const lat = performance.now() - s;
    if (!r || r.status !== 200) pollErrors++;
    else pollLat.push(lat);
    if (performance.now() - lastCheck > 250) {
      lastCheck = performance.now();
      // Cheap check for the end; the full count (10k rows read) only for the progress line.
      const open = await openOf(b, 1);
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        progress(`(c) draining: ${fmtInt(await openOf(b))} of ${fmtInt(D)} not revoked yet`);
      }
      if (open === 0) {
        drained = true;
        break;
      }
    }
    if (performance.now() > deadline) break;
    await sleep(Math.max(0, 50 - lat));
  }
  const pollEndReal = performance.now();
  const inflight = await b.child.call<Record<string, { max: number; calls: number }>>('inflight');
  const recs = await b.child.call<GrantRow[]>('grants', { ids });
  const revoked = recs.filter((g) => g.status === 'revoked' && g.revokedAt !== null);
  const toRevoked = revoked.map((g) => g.revokedAt! - jumpFake);
  const drainMs = toRevoked.length ? Math.max(...toRevoked) : Number.NaN;
  const retried = recs.filter((g) => g.attempts > 0 || g.failingSince !== null).length;
  const stint = {
    adopted: ids.length,
    setupS,
    drained,
    revoked: revoked.length,
    notRevoked: recs.length - revoked.length,
    retried,
    drainMs,
    drainRate: (revoked.length / drainMs) * 1000,
    timeToRevoked: stats(toRevoked),
    pollMs: pollEndReal - jumpReal,
    poll: stats(pollLat),
    pollErrors,
    maxInFlightRemoves: inflight['pg removeAccount']?.max ?? 0,
    removeCalls: inflight['pg removeAccount']?.calls ?? 0,
  };
  progress(`(c) drain done in ${fmt(drainMs / 1000)} s`);

  // Raw: as many roles in the state the admin's own CREATE ROLE leaves, dropped by the admin at the broker's revoke concurrency.
  const raw = Array.from({ length: D }, (_, i) => `rawd_${i}`);
  progress(`(c) raw: making ${fmtInt(D)} roles`);
  await makeRoles(env, raw, t.rawMarker);
  const dropPool = await env.adminPool(V);
  progress(`(c) raw: DROP ROLE ×${fmtInt(D)} at concurrency ${V}`);
  const rawDrop = await runLoop(
    D,
    V,
    async (i) => {
      await dropPool.query(dropRoleSql(raw[i]!));
    },
    { label: '(c) raw drop', progressEvery: Math.max(1, Math.floor(D / 5)) },
  );
  return {
    stint,
    revokeConcurrency: V,
    raw: { dropRate: rawDrop.rate, dropMs: rawDrop.wallMs, dropErrors: rawDrop.errors, dropFirstError: rawDrop.firstError, drop: stats(rawDrop.latencies) },
  };
}

// ---------------------------------------------------------------- main

async function main() {
  let env: BenchEnv | undefined;
  let broker: Broker | undefined;
  const guard = guardProcess(async () => {
    if (broker) await closeBroker(broker).catch(() => {});
    await env?.destroy();
  }, limitMs);
  const started = performance.now();
  try {
    env = await startBenchEnv(storeKind);
    const home = await env.newBrokerHome('scale', { revokeConcurrency: V, maxDuration: '8h' });
    let a: Awaited<ReturnType<typeof partA>>['result'] | null = null;
    if (parts.has('a')) {
      const r = await partA(home);
      a = r.result;
      broker = r.broker;
    } else {
      broker = await openBroker(home, 'empty store');
    }
    const bRes = parts.has('b') ? await partB(broker) : null;
    const cRes = parts.has('c') ? await partC(env, broker) : null;
    const problems = await closeBroker(broker);
    broker = undefined;
    const out = report(a, bRes, cRes, problems, (performance.now() - started) / 1000);
    process.stdout.write(out.text);
    await writeJson(flags.json, out.summary);
  } finally {
    if (broker) await closeBroker(broker).catch(() => {});
    await env?.destroy();
    guard.done();
  }
}

function report(
  a: Awaited<ReturnType<typeof partA>>['result'] | null,
  b: Awaited<ReturnType<typeof partB>> | null,
  c: Awaited<ReturnType<typeof partC>> | null,
  problems: { warnings: number; errors: number; firstProblem: string | null },
  wallS: number,
) {
  const m = machineInfo();
  const L: string[] = [''];
  L.push(`== Stint scale (store ${storeKind}${a ? `, ${fmtInt(S)} active grants in it throughout` : ''})`);
  L.push(`machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memGiB} GiB, ${m.os}, node ${m.node}`);
  L.push(`command: ${commandLine()}`);
  if (a) {
    L.push('');
    L.push(`(a) broker start-up and memory with ${fmtInt(S)} active grants in the store (inserted at ${fmtInt(a.insertRate)}/s, ${fmt(a.insertMs / 1000)} s)`);
    const r = (label: string, f: (x: StartMeasure) => number, digits = 1) => [
      label,
      fmt(f(a.empty), digits),
      fmt(f(a.full), digits),
      ratio(f(a.full), f(a.empty)),
    ];
    L.push(
      table([
        ['', 'empty store', `${fmtInt(S)} grants`, 'ratio'],
        r('createApp, ms', (x) => x.ready.createdMs),
        r('start to ready: createApp + listen + first /healthz 200, ms', (x) => x.ready.readyMs),
        r('process spawn to ready (incl. node + tsx), ms', (x) => x.ready.spawnToReadyMs, 0),
        r(`RSS${a.full.ready.gc ? ' after GC' : ' (no GC)'}, MiB`, (x) => x.ready.rss / MiB),
        r('heap used, MiB', (x) => x.ready.heapUsed / MiB),
        r('GET /v1/grants?all=true&limit=100 p50, ms', (x) => x.listGrants.p50, 2),
        r('GET /v1/grants?all=true&limit=100 p99, ms', (x) => x.listGrants.p99, 2),
        r('GET /metrics p50, ms', (x) => x.metrics.p50, 2),
      ]),
    );
  }
  if (b) {
    L.push('');
    L.push(
      `(b) expiry lag at a steady ${RATE} expiries/s: ${b.created} grants requested over HTTP (${fmt(b.createRate)}/s at concurrency ${C}${b.createErrors ? `, ${b.createErrors} errors: ${b.createFirstError}` : ''})`,
    );
    L.push(`    achieved expiry rate ${fmt(b.achievedRate)}/s; revoked ${b.revoked} (${b.notRevoked} not revoked, ${b.notExpiredReason} with another reason)`);
    L.push(
      table([
        ['lag = revokedAt - expiresAt', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms'],
        ['expiry lag', fmt(b.lag.p50), fmt(b.lag.p90), fmt(b.lag.p99), fmt(b.lag.max), fmt(b.lag.mean)],
      ]),
    );
  }
  if (c) {
    const s = c.stint;
    L.push('');
    L.push(
      `(c) drain: ${fmtInt(s.adopted)} active grants whose accounts exist on the target (made directly as its superuser in ${fmt(s.setupS)} s, see makeRoles),`,
    );
    L.push(
      `    all due at once (broker clock moved past their expiresAt); revoked ${fmtInt(s.revoked)}, not revoked ${s.notRevoked}, needed a retry ${s.retried}${s.drained ? '' : ' — DID NOT FINISH before the deadline'}`,
    );
    L.push(
      `    concurrent removeAccount calls on the target: at most ${s.maxInFlightRemoves} (broker.revokeConcurrency ${c.revokeConcurrency}), ${fmtInt(s.removeCalls)} calls`,
    );
    L.push(
      table([
        ['drain', `Stint (revokeConcurrency ${c.revokeConcurrency})`, `raw DROP ROLE (concurrency ${c.revokeConcurrency})`, 'Stint / raw'],
        ['time to remove all, s', fmt(s.drainMs / 1000, 2), fmt(c.raw.dropMs / 1000, 2), ratio(s.drainMs, c.raw.dropMs).replace('x', 'x the time')],
        ['rate, grants/s', fmt(s.drainRate), fmt(c.raw.dropRate), ratio(s.drainRate, c.raw.dropRate)],
      ]),
    );
    L.push(
      `    time from due to revoked per grant: p50 ${fmt(s.timeToRevoked.p50 / 1000, 2)} s, p99 ${fmt(s.timeToRevoked.p99 / 1000, 2)} s, max ${fmt(s.timeToRevoked.max / 1000, 2)} s`,
    );
    L.push(
      `    API during the drain: ${s.poll.n} × GET /v1/grants?all=true&limit=100 (admin) every ~50 ms: p50 ${fmt(s.poll.p50)} ms, p99 ${fmt(s.poll.p99)} ms, max ${fmt(s.poll.max)} ms, errors ${s.pollErrors}`,
    );
    if (c.raw.dropErrors) L.push(`    raw drop errors: ${c.raw.dropErrors}, first: ${c.raw.dropFirstError}`);
  }
  L.push('');
  L.push(`broker log: ${problems.errors} error and ${problems.warnings} warning lines${problems.firstProblem ? ` (first: ${problems.firstProblem})` : ''}`);
  L.push('notes: the broker runs in its own process; the client (node:http) and PostgreSQL share the same cores. Stint revocation =');
  L.push('       intent in the store, advisory lock, the role read, DROP ROLE and its sessions ended (by OID), outcome');
  L.push('       in the store, each with its audit event; raw = a bare DROP ROLE. Embedded PostgreSQL runs with fsync=off.');
  L.push(`wall time: ${fmt(wallS, 0)} s`);
  L.push('');
  return {
    text: L.join('\n') + '\n',
    summary: {
      bench: 'scale',
      store: storeKind,
      machine: m,
      command: commandLine(),
      params: { scaleGrants: S, batch: BATCH, expiry: E, expiryRate: RATE, drain: D, concurrency: C, revokeConcurrency: V },
      a,
      b,
      c,
      brokerLog: problems,
      wallS,
      liveStatuses,
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
