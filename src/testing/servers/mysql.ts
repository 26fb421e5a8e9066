// A real MariaDB server for tests, from the Debian `mariadb-server` package
// (mariadbd + mariadb-install-db): its own temp data dir, loopback TCP on a
// free port, its socket inside the data dir. `npm test` starts one for the
// whole run (scripts/test-servers.ts calls startMysqlTestServer) and exports
// STINT_TEST_MYSQL_URL; a test file run on its own starts one itself through
// testMysqlUrl(). Never the system's default instance or port.
//
// Setup runs as the socket-authenticated root once, with the `mariadb`
// client: it creates a test superuser reachable over TCP (the URL's
// credential). Tests create their least-privileged Stint admins with it.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../embedded/free-port.js';

export interface MysqlServer {
  host: string;
  port: number;
  /** Unix socket of the server, inside its data dir. */
  socket: string;
  /** Test superuser URL over TCP (not root; root authenticates by socket only). */
  url: string;
  /** Stops the server process; data stays so `start()` can bring it back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and deletes the data directory. */
  destroy(): Promise<void>;
}

const searchPath = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin'];

function findBinary(names: string[], pkg: string): string {
  for (const dir of searchPath) {
    for (const n of names) {
      const p = join(dir, n);
      if (dir && existsSync(p)) return p;
    }
  }
  throw new Error(`MariaDB test server: none of ${names.join(', ')} found; install the Debian package ${pkg} (apt-get install ${pkg})`);
}

function run(bin: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { timeout: 60_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err)
        reject(
          new Error(
            `${bin} failed: ${String(stderr || err.message)
              .trim()
              .slice(0, 2000)}`,
          ),
        );
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StartMysqlOptions {
  /** Let this Node process exit while the server runs (tests); the exit hook still kills it. */
  unref?: boolean;
}

export async function startMysqlServer(opts: StartMysqlOptions = {}): Promise<MysqlServer> {
  const mariadbd = findBinary(['mariadbd', 'mysqld'], 'mariadb-server');
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db'], 'mariadb-server');
  const client = findBinary(['mariadb', 'mysql'], 'mariadb-client');
  const base = await mkdtemp(join(tmpdir(), 'stint-mysql-'));
  const dataDir = join(base, 'data');
  const socket = join(base, 'mysqld.sock');
  const errorLog = join(base, 'error.log');
  const port = await freePort();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // mariadbd refuses to run as root unless told to; the data dir is ours anyway.
  const userArgs = isRoot ? ['--user=root'] : [];
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  // Whatever way this process ends, the server and its files go with it.
  const onExit = () => {
    child?.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const logTail = () => {
    try {
      return readFileSync(errorLog, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no error log)';
    }
  };

  async function launch(): Promise<void> {
    const args = [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--pid-file=${join(base, 'mysqld.pid')}`,
      `--log-error=${errorLog}`,
      `--tmpdir=${base}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--skip-networking=0',
      // Clients are matched by IP, so `%` and `127.0.0.1` hosts behave predictably.
      '--skip-name-resolve',
      // The expiry backstop of the connector runs as scheduled events.
      '--event-scheduler=ON',
      '--character-set-server=utf8mb4',
      '--max-connections=400',
      '--innodb-buffer-pool-size=32M',
      '--innodb-flush-log-at-trx-commit=0',
      ...userArgs,
    ];
    const p = spawn(mariadbd, args, { stdio: 'ignore' });
    child = p;
    exited = new Promise((resolve) => p.once('exit', () => resolve()));
    let dead = false;
    let spawnError = '';
    p.once('exit', () => {
      dead = true;
    });
    p.on('error', (err) => {
      dead = true;
      spawnError = `${err.message}\n`;
    });
    if (opts.unref) p.unref();
    const deadline = Date.now() + 60_000;
    while (!(existsSync(socket) && (await canConnect(port)))) {
      if (dead) throw new Error(`mariadbd exited during start-up:\n${spawnError}${logTail()}`);
      if (Date.now() > deadline) throw new Error(`mariadbd did not start within 60 s:\n${logTail()}`);
      await sleep(50);
    }
  }

  const password = randomBytes(18).toString('base64url');
  const superuser = 'stint_test_root';
  try {
    await run(installDb, [
      '--no-defaults',
      `--datadir=${dataDir}`,
      '--auth-root-authentication-method=socket',
      '--skip-test-db',
      '--skip-name-resolve',
      ...userArgs,
    ]);
    await launch();
    // Over the root socket (unix_socket authentication as the OS root user).
    // The password is base64url: nothing to escape in the literal.
    await run(
      client,
      ['--no-defaults', `--socket=${socket}`, '-uroot', '--batch'],
      `DELETE FROM mysql.global_priv WHERE User = '';
       FLUSH PRIVILEGES;
       CREATE USER '${superuser}'@'127.0.0.1' IDENTIFIED BY '${password}';
       GRANT ALL PRIVILEGES ON *.* TO '${superuser}'@'127.0.0.1' WITH GRANT OPTION;`,
    );
  } catch (e) {
    (child as ChildProcess | null)?.kill('SIGKILL');
    await rm(base, { recursive: true, force: true });
    process.removeListener('exit', onExit);
    throw e;
  }

  let running = true;
  const server: MysqlServer = {
    host: '127.0.0.1',
    port,
    socket,
    url: `mysql://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/`,
    async stop() {
      if (!running || !child) return;
      running = false;
      const p = child;
      p.ref();
      p.kill('SIGTERM');
      const killer = setTimeout(() => p.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
    async start() {
      if (running) return;
      await launch();
      running = true;
    },
    async destroy() {
      await server.stop().catch(() => {});
      await rm(base, { recursive: true, force: true });
      process.removeListener('exit', onExit);
    },
  };
  return server;
}

/** For scripts/test-servers.ts: one server for the whole test run. */
export async function startMysqlTestServer(): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  const s = await startMysqlServer();
  return { env: { STINT_TEST_MYSQL_URL: s.url }, stop: () => s.destroy() };
}

let own: Promise<MysqlServer> | null = null;

/** Superuser URL of the test server: STINT_TEST_MYSQL_URL, else one this process starts once. */
export async function testMysqlUrl(): Promise<string> {
  const fromEnv = process.env.STINT_TEST_MYSQL_URL;
  if (fromEnv) return fromEnv;
  own ??= startMysqlServer({ unref: true });
  return (await own).url;
}

// The server does not hold the event loop open (unref), so this runs when the
// tests are done; it stops the server and deletes its data once.
let destroyed = false;
process.on('beforeExit', () => {
  if (own && !destroyed) {
    destroyed = true;
    void own.then((s) => s.destroy()).catch(() => {});
  }
});
