// Shared pieces of the benchmarks: an embedded PostgreSQL target set up like
// the tests' (src/testing/broker.ts), a broker in a child process reached over real HTTP,
// bounded concurrent loops, percentiles and plain-text tables.
//
// Benchmarks print figures and never assert. Everything talks to 127.0.0.1.

import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../src/embedded/postgres.js';
import { createPgPool } from '../src/pg-pool.js';

// ---------------------------------------------------------------- progress

const t0 = performance.now();
export function progress(msg: string): void {
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}

// ---------------------------------------------------------------- numbers

export interface Stats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function stats(values: readonly number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1]! : Number.NaN,
    mean: s.length ? sum / s.length : Number.NaN,
  };
}

export const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
export const fmtInt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
export const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}x` : 'n/a');

/** A plain-text table; first row is the header. Numbers are right-aligned. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths: number[] = [];
  for (const r of cells) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of cells.slice(1)) out.push(line(r));
  return out.join('\n');
}

// ---------------------------------------------------------------- loops

export interface LoopResult {
  /** Wall time of the whole loop, ms. */
  wallMs: number;
  /** Per-operation latency of the successful operations, ms. */
  latencies: number[];
  ok: number;
  errors: number;
  firstError: string | null;
  /** Operations per second over the wall time (successful only). */
  rate: number;
}

/**
 * Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight. Errors
 * are counted, not thrown. Stops early (counting the rest as not run) when
 * `deadline` (performance.now() ms) passes.
 */
export async function runLoop(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
  opts: { label?: string; deadline?: number; progressEvery?: number } = {},
): Promise<LoopResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | null = null;
  const every = opts.progressEvery ?? Math.max(1, Math.ceil(n / 5));
  const start = performance.now();
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      if (opts.deadline !== undefined && performance.now() > opts.deadline) {
        next = n;
        return;
      }
      const s = performance.now();
      try {
        await fn(i);
        latencies.push(performance.now() - s);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
      done++;
      if (opts.label && done % every === 0) progress(`${opts.label}: ${done}/${n}`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
  const wallMs = performance.now() - start;
  return { wallMs, latencies, ok: latencies.length, errors, firstError, rate: (latencies.length / wallMs) * 1000 };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- where the CPU went

/** CPU spent during one stretch, in ms. Linux only (read from /proc); `null` where /proc is missing. */
export interface CpuSpent {
  wallMs: number;
  /** All cores: capacity (wall × cores) and the part of it not idle, for every process on the machine. */
  machineCapacityMs: number;
  machineBusyMs: number;
  /** This process: the load generator (HTTP or pg client, raw SCRAM hashing). */
  benchMs: number;
  /** The broker child, all its threads; and its main thread (the event loop) on a CPU and runnable but waiting for one. */
  brokerMs: number;
  brokerMainMs: number;
  brokerMainWaitMs: number;
}

const procTicksMs = 10; // USER_HZ is 100 on Linux

function readMachine(): { busy: number; all: number } {
  // cpu user nice system idle iowait irq softirq steal …; busy excludes idle and iowait.
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { busy: (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) * procTicksMs, all: f.reduce((a, x) => a + x, 0) * procTicksMs };
}

function readProcessMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * procTicksMs; // utime, stime
}

/** On-CPU and run-queue-wait ns of the process's main thread. */
function readMainThread(pid: number): { run: number; wait: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return { run: run! / 1e6, wait: wait! / 1e6 };
}

/** Starts measuring; the returned function ends the stretch. `brokerPid` 0 leaves the broker columns 0. */
export function startCpuMeter(brokerPid: number): () => CpuSpent | null {
  let start: { at: number; machine: { busy: number; all: number }; bench: NodeJS.CpuUsage; broker: number; main: { run: number; wait: number } };
  try {
    start = {
      at: performance.now(),
      machine: readMachine(),
      bench: process.cpuUsage(),
      broker: brokerPid ? readProcessMs(brokerPid) : 0,
      main: brokerPid ? readMainThread(brokerPid) : { run: 0, wait: 0 },
    };
  } catch {
    return () => null;
  }
  return () => {
    const machine = readMachine();
    const bench = process.cpuUsage(start.bench);
    const main = brokerPid ? readMainThread(brokerPid) : { run: 0, wait: 0 };
    return {
      wallMs: performance.now() - start.at,
      machineCapacityMs: machine.all - start.machine.all,
      machineBusyMs: machine.busy - start.machine.busy,
      benchMs: (bench.user + bench.system) / 1000,
      brokerMs: brokerPid ? readProcessMs(brokerPid) - start.broker : 0,
      brokerMainMs: main.run - start.main.run,
      brokerMainWaitMs: main.wait - start.main.wait,
    };
  };
}

/** Sums stretches (null ones count as nothing measured). */
export function addCpu(into: CpuSpent | null, x: CpuSpent | null): CpuSpent | null {
  if (!x) return into;
  if (!into) return { ...x };
  for (const k of Object.keys(x) as (keyof CpuSpent)[]) into[k] += x[k];
  return into;
}

// ---------------------------------------------------------------- flags

export function intFlag(v: string | undefined, name: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be a whole number >= ${min}, not ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
}

export function storeFlag(v: string | undefined): 'sqlite' | 'postgres' {
  if (v === undefined || v === 'sqlite' || v === 'postgres') return v ?? 'sqlite';
  process.stderr.write(`--store must be sqlite or postgres, not ${JSON.stringify(v)}\n`);
  process.exit(2);
}

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** The exact command line this process was started with (for the report). */
export function commandLine(): string {
  const argv = process.argv.slice(1).map((a) => a.replace(process.cwd() + '/', ''));
  return ['node', ...process.execArgv, ...argv].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

// ---------------------------------------------------------------- environment

export interface BenchTarget {
  host: string;
  port: number;
  database: string;
  adminUser: string;
  adminPassword: string;
  readRole: string;
  /** Marker of the Stint-made accounts (the connector creates it). */
  marker: string;
  /** Marker for the raw comparison roles (made here, by the admin). */
  rawMarker: string;
}

export interface BenchEnv {
  server: EmbeddedPostgresServer;
  target: BenchTarget;
  workDir: string;
  storeKind: 'sqlite' | 'postgres';
  /** A pool logged in as the target's CREATEROLE admin (what Stint uses), for raw operations. */
  adminPool(max: number): Promise<pg.Pool>;
  /** A data dir and store location for one broker; `name` keeps several apart. */
  newBrokerHome(name: string, config?: ConfigOptions): Promise<BrokerHome>;
  destroy(): Promise<void>;
}

export interface ConfigOptions {
  revokeConcurrency?: number;
  maxDuration?: string;
  /** Default 1h: a reconcile pass over 100k grants would be a benchmark of its own. */
  reconcileInterval?: string;
}

export interface BrokerHome {
  dataDir: string;
  configPath: string;
  /** undefined for SQLite (the default file in dataDir). */
  storeUrl: string | undefined;
  env: NodeJS.ProcessEnv;
}

export const masterKey = Buffer.alloc(32, 7).toString('base64');

const id = pg.escapeIdentifier;
const lit = pg.escapeLiteral;

/** Starts its own embedded PostgreSQL and sets up a target database like the tests do. */
export async function startBenchEnv(storeKind: 'sqlite' | 'postgres'): Promise<BenchEnv> {
  const workDir = await mkdtemp(join(tmpdir(), 'stint-bench-'));
  progress('starting embedded PostgreSQL');
  const server = await startEmbeddedPostgres({ unref: false });
  const target: BenchTarget = {
    host: server.host,
    port: server.port,
    database: 'bench_target',
    adminUser: 'stint_admin',
    adminPassword: randomBytes(18).toString('base64url'),
    readRole: 'app_read',
    marker: 'stint_managed',
    rawMarker: 'raw_managed',
  };
  const su = new pg.Client({ connectionString: server.url() });
  await su.connect();
  try {
    await su.query(`CREATE DATABASE ${id(target.database)}`);
  } finally {
    await su.end();
  }
  const tc = new pg.Client({ connectionString: server.url(target.database) });
  await tc.connect();
  try {
    // As src/testing/broker.ts: a readable table, a profile role, and the
    // documented least-privileged admin (CREATEROLE, pg_signal_backend, the
    // profile role WITH ADMIN OPTION).
    await tc.query(`
      CREATE ROLE ${id(target.readRole)} NOLOGIN;
      CREATE TABLE public.items (id serial PRIMARY KEY, name text NOT NULL);
      INSERT INTO public.items (name) VALUES ('widget'), ('gadget');
      REVOKE ALL ON SCHEMA public FROM PUBLIC;
      GRANT USAGE ON SCHEMA public TO ${id(target.readRole)};
      GRANT SELECT ON public.items TO ${id(target.readRole)};
      CREATE ROLE ${id(target.adminUser)} LOGIN CREATEROLE PASSWORD ${lit(target.adminPassword)};
      GRANT ${id(target.readRole)} TO ${id(target.adminUser)} WITH ADMIN OPTION;
      GRANT pg_signal_backend TO ${id(target.adminUser)};
    `);
  } finally {
    await tc.end();
  }
  // The raw marker is made by the admin itself, so it holds ADMIN OPTION on it (PostgreSQL 16+).
  const ac = new pg.Client({ host: target.host, port: target.port, database: target.database, user: target.adminUser, password: target.adminPassword });
  await ac.connect();
  try {
    await ac.query(`CREATE ROLE ${id(target.rawMarker)} NOLOGIN`);
  } finally {
    await ac.end();
  }
  const pools: pg.Pool[] = [];
  let storeDbs = 0;
  const env: BenchEnv = {
    server,
    target,
    workDir,
    storeKind,
    async adminPool(max) {
      const pool = createPgPool({
        host: target.host,
        port: target.port,
        database: target.database,
        user: target.adminUser,
        password: target.adminPassword,
        max,
        connectionTimeoutMillis: 30_000,
        statement_timeout: 60_000,
        application_name: 'stint-bench-raw',
      });
      pools.push(pool);
      // Open every connection before timing (authentication is not the operation measured).
      const clients = await Promise.all(Array.from({ length: max }, () => pool.connect()));
      for (const c of clients) c.release();
      return pool;
    },
    async newBrokerHome(name, config = {}) {
      const dataDir = join(workDir, name);
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const passwordFile = join(dataDir, 'pg-admin.secret');
      await writeFile(passwordFile, `${target.adminPassword}\n`, { mode: 0o600 });
      const configPath = join(dataDir, 'stint.yaml');
      await writeFile(configPath, benchConfigYaml(target, passwordFile, config));
      let storeUrl: string | undefined;
      if (storeKind === 'postgres') {
        const db = `bench_store_${++storeDbs}`;
        const c = new pg.Client({ connectionString: server.url() });
        await c.connect();
        try {
          await c.query(`CREATE DATABASE ${id(db)}`);
        } finally {
          await c.end();
        }
        storeUrl = server.url(db);
      }
      return { dataDir, configPath, storeUrl, env: { STINT_MASTER_KEY: masterKey } };
    },
    async destroy() {
      await Promise.all(pools.map((p) => p.end().catch(() => {})));
      progress('stopping embedded PostgreSQL');
      await server.destroy().catch(() => {});
      await rm(workDir, { recursive: true, force: true }).catch(() => {});
    },
  };
  return env;
}

export function benchConfigYaml(t: BenchTarget, passwordFile: string, o: ConfigOptions = {}): string {
  return `# written by bench/lib.ts
broker:
  revokeConcurrency: ${o.revokeConcurrency ?? 8}
  reconcileInterval: ${o.reconcileInterval ?? '1h'}
targets:
  - name: pg
    kind: postgres
    host: ${t.host}
    port: ${t.port}
    database: ${t.database}
    markerRole: ${t.marker}
    admin: { user: ${t.adminUser}, passwordFile: ${JSON.stringify(passwordFile)} }
profiles:
  - { name: pg-read, target: pg, mode: ephemeral-account, grants: [${t.readRole}], maxDuration: ${o.maxDuration ?? '8h'} }
policies:
  - { name: devs-read, subjects: { groups: [dev] }, profiles: [pg-read], approval: auto }
users:
  - { name: alice, groups: [dev] }
  - { name: bob, groups: [dev] }
  - { name: root, groups: [ops], admin: true }
`;
}

// ---------------------------------------------------------------- broker logs

export function countProblems(logFile: string): { warnings: number; errors: number; firstProblem: string | null } {
  let warnings = 0;
  let errors = 0;
  let firstProblem: string | null = null;
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return { warnings, errors, firstProblem };
  }
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const o = JSON.parse(line) as { level?: number; msg?: string; error?: string };
      if ((o.level ?? 0) >= 50) errors++;
      else if ((o.level ?? 0) >= 40) warnings++;
      else continue;
      firstProblem ??= `${o.msg ?? ''}${o.error ? `: ${o.error}` : ''}`.slice(0, 300);
    } catch {
      /* partial line */
    }
  }
  return { warnings, errors, firstProblem };
}

// ---------------------------------------------------------------- a broker in its own process

/**
 * A keep-alive HTTP/1.1 client on node:http, at most `maxSockets` connections.
 * Much cheaper per request than fetch (undici), whose CPU would otherwise be
 * counted against the broker on a 2-core machine.
 */
export function httpClient(baseUrl: string, maxSockets: number) {
  const u = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  function request(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string | number> = { authorization: `Bearer ${token}` };
      if (data !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(data);
      }
      const req = http.request({ agent, host: u.hostname, port: u.port, method, path, headers, timeout: 120_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 120 s`)));
      req.on('error', reject);
      req.end(data);
    });
  }
  return { request, close: () => agent.destroy() };
}

export interface ChildReady {
  url: string;
  createdMs: number;
  listeningMs: number;
  readyMs: number;
  rss: number;
  heapUsed: number;
  gc: boolean;
  adminToken: string | null;
  pid: number;
  /** From fork to the ready message, including node and tsx start-up. */
  spawnToReadyMs: number;
}

export interface ChildBroker {
  ready: ChildReady;
  proc: ChildProcess;
  adminToken: string;
  /** One of the commands bench/broker-child.ts answers. */
  call<T = any>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  /** Closes the broker (its log is counted for warnings and errors). */
  close(): Promise<{ warnings: number; errors: number; firstProblem: string | null }>;
}

const benchDir = dirname(fileURLToPath(import.meta.url));

/** bench/broker-child.ts in a forked process with --expose-gc; `offsetClock` lets the bench move its clock. */
export async function startChildBroker(home: BrokerHome, opts: { offsetClock?: boolean; logLevel?: string } = {}): Promise<ChildBroker> {
  const start = performance.now();
  // STINT_BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the child.
  const extra = (process.env.STINT_BENCH_CHILD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const proc = fork(join(benchDir, 'broker-child.ts'), [], {
    cwd: join(benchDir, '..'),
    execArgv: ['--expose-gc', ...extra, '--import', 'tsx'],
    env: {
      ...process.env,
      BENCH_CHILD: JSON.stringify({
        configPath: home.configPath,
        dataDir: home.dataDir,
        storeUrl: home.storeUrl,
        masterKey,
        offsetClock: opts.offsetClock ?? false,
        logLevel: opts.logLevel,
      }),
    },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-4000)));
  // A failed spawn or kill: what it means reaches the caller through 'exit' or the failed call.
  proc.on('error', (err) => (stderr = `${stderr}\n${err.message}`.slice(-4000)));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let exited: string | null = null;
  const ready = await new Promise<ChildReady>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker child did not become ready in 300 s: ${stderr.slice(-500)}`)), 300_000);
    proc.on('message', (m: any) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve({ ...m, spawnToReadyMs: performance.now() - start });
        return;
      }
      const p = pending.get(m?.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`broker child: ${m.error}`));
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      exited = `broker child exited (${code}): ${stderr.slice(-1000)}`;
      reject(new Error(exited));
      for (const p of pending.values()) p.reject(new Error(exited));
      pending.clear();
    });
  });
  const adminToken = ready.adminToken ?? (await readFile(join(home.dataDir, 'admin.token'), 'utf8')).trim();
  const call = <T>(cmd: string, args: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(new Error(exited));
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      // With a callback, a send to a child that has gone fails the call instead of emitting 'error'.
      proc.send({ ...args, id, cmd }, (err) => {
        if (err && pending.delete(id)) reject(err);
      });
    });
  return {
    ready,
    proc,
    adminToken,
    call,
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        const kill = setTimeout(() => proc.kill('SIGKILL'), 60_000);
        await call('close').catch(() => {});
        await exited;
        clearTimeout(kill);
      }
      let problems = { warnings: 0, errors: 0, firstProblem: null as string | null };
      for (const f of await import('node:fs/promises').then((fs) => fs.readdir(home.dataDir))) {
        if (!f.startsWith(`child-${proc.pid}`)) continue;
        problems = countProblems(join(home.dataDir, f));
      }
      return problems;
    },
  };
}

// ---------------------------------------------------------------- raw target operations

export const rawSecret = () => randomBytes(32).toString('base64url');

/** One transaction on one pooled connection, as a plain client would do it. */
export async function inTx(pool: pg.Pool, statements: string[]): Promise<void> {
  const c = await pool.connect();
  let broken = false;
  try {
    await c.query('BEGIN');
    try {
      for (const s of statements) await c.query(s);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    }
  } finally {
    c.release(broken);
  }
}

export function rawCreateStatements(t: BenchTarget, name: string, password: string, validUntil: Date): string[] {
  return [
    `CREATE ROLE ${id(name)} LOGIN PASSWORD ${lit(password)} VALID UNTIL ${lit(validUntil.toISOString())} IN ROLE ${id(t.rawMarker)}`,
    `GRANT ${id(t.readRole)} TO ${id(name)}`,
  ];
}

export const dropRoleSql = (name: string) => `DROP ROLE IF EXISTS ${id(name)}`;

// ---------------------------------------------------------------- process lifetime

/**
 * Cleans up once on SIGINT/SIGTERM or when the hard time limit passes, then
 * exits; the benchmark always stops by itself.
 */
export function guardProcess(cleanup: () => Promise<void>, limitMs: number): { done(): void } {
  let running = false;
  const stop = async (why: string, code: number) => {
    if (running) return;
    running = true;
    progress(`${why}; cleaning up`);
    await Promise.race([cleanup().catch(() => {}), sleep(30_000)]);
    process.exit(code);
  };
  const onSig = (s: string) => void stop(`received ${s}`, 130);
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  const timer = setTimeout(() => void stop(`time limit of ${Math.round(limitMs / 1000)}s reached`, 124), limitMs);
  timer.unref();
  return {
    done() {
      clearTimeout(timer);
      process.removeListener('SIGINT', onSig);
      process.removeListener('SIGTERM', onSig);
    },
  };
}

/**
 * Runs `body` with its own embedded PostgreSQL (startBenchEnv); the brokers it
 * starts through `startBroker` are closed and the environment destroyed
 * however it ends: returning, throwing, a signal, or `limitMs` passing.
 */
export async function withBenchEnv<T>(
  storeKind: 'sqlite' | 'postgres',
  limitMs: number,
  body: (env: BenchEnv, startBroker: typeof startChildBroker) => Promise<T>,
): Promise<T> {
  let env: BenchEnv | undefined;
  const brokers: ChildBroker[] = [];
  const cleanup = async () => {
    // Closing a broker the body closed already only counts its log again.
    for (const b of brokers) await b.close().catch(() => {});
    await env?.destroy();
  };
  const guard = guardProcess(cleanup, limitMs);
  try {
    env = await startBenchEnv(storeKind);
    return await body(env, async (home, opts) => {
      const b = await startChildBroker(home, opts);
      brokers.push(b);
      return b;
    });
  } finally {
    try {
      await cleanup();
    } finally {
      guard.done();
    }
  }
}

export async function writeJson(path: string | undefined, value: unknown): Promise<void> {
  if (path) await writeFile(path, JSON.stringify(value, null, 2));
}
