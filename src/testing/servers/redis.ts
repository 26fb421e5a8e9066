// A real Redis server for tests: the Debian `redis-server` binary started on a
// free loopback port with its own temp dir, no persistence of data, and an
// aclfile holding a test superuser (`stint-root`) while `default` is off.
// `npm test` starts one for the whole run (scripts/test-servers.ts) and
// exports STINT_TEST_REDIS_URL; a test file run on its own starts one itself.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../embedded/free-port.js';

export const REDIS_URL_ENV = 'STINT_TEST_REDIS_URL';
const ROOT_USER = 'stint-root';
const START_TIMEOUT_MS = 15_000;

export interface RedisServer {
  host: string;
  port: number;
  /** Superuser (all commands, keys, channels) for test setup. */
  user: string;
  password: string;
  /** `redis://stint-root:<password>@127.0.0.1:<port>` */
  url: string;
  aclFile: string;
  /** Stops the process; the dir stays so `start()` brings it back on the same port with the same users. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and deletes the temp dir. */
  destroy(): Promise<void>;
}

export interface RedisServerOptions {
  /** Let this Node process exit while the server runs (tests); it is killed on exit anyway. */
  unref?: boolean;
}

/** Starts a private redis-server; throws naming the Debian package if the binary is missing. */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'stint-redis-'));
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  const aclFile = join(dir, 'users.acl');
  // Redis requires the aclfile to exist. `default` is listed (off, nothing
  // allowed) because Redis would otherwise add it with every permission and no password.
  const hash = createHash('sha256').update(password).digest('hex');
  await writeFile(aclFile, `user ${ROOT_USER} on #${hash} ~* &* +@all\nuser default off resetkeys resetchannels -@all\n`, { mode: 0o600 });
  let child: ChildProcess | null = null;
  const killNow = () => {
    child?.kill('SIGKILL');
  };
  const cleanup = () => {
    killNow();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);

  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--aclfile',
    aclFile,
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--maxclients',
    '1000',
  ];

  async function start(): Promise<void> {
    if (child) return;
    const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Error(`redis-server did not start within ${START_TIMEOUT_MS} ms:\n${output.slice(-2000)}`));
      }, START_TIMEOUT_MS);
      const onData = (b: Buffer) => {
        output += b.toString();
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
      c.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        child = null;
        reject(err.code === 'ENOENT' ? new Error('redis-server not found: install the Debian package `redis-server` (apt-get install redis-server)') : err);
      });
      c.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (child === c) child = null;
        reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output.slice(-2000)}`));
      });
    });
    // Keep draining output so the pipe never fills, without holding the event loop.
    c.stdout!.on('data', () => {});
    c.stderr!.on('data', () => {});
    if (opts.unref) for (const h of [c, c.stdout, c.stderr] as { unref?: () => void }[]) h.unref?.();
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c) return;
    child = null;
    if (c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      c.kill('SIGTERM');
    });
  }

  try {
    await start();
  } catch (err) {
    cleanup();
    process.removeListener('exit', cleanup);
    throw err;
  }

  return {
    host: '127.0.0.1',
    port,
    user: ROOT_USER,
    password,
    url: `redis://${ROOT_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    aclFile,
    stop,
    start,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
      process.removeListener('exit', cleanup);
    },
  };
}

/** For scripts/test-servers.ts: one server for the whole test run. */
export async function startRedisTestServer(): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  const s = await startRedisServer();
  return { env: { [REDIS_URL_ENV]: s.url }, stop: () => s.destroy() };
}

export interface RedisTestServer {
  host: string;
  port: number;
  user: string;
  password: string;
  url: string;
}

function fromUrl(url: string): RedisTestServer {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    url,
  };
}

let own: Promise<RedisServer> | null = null;

/** The run's shared server (STINT_TEST_REDIS_URL), else one started once per process. */
export async function testRedisServer(): Promise<RedisTestServer> {
  const fromEnv = process.env[REDIS_URL_ENV];
  if (fromEnv) return fromUrl(fromEnv);
  own ??= startRedisServer({ unref: true });
  return fromUrl((await own).url);
}

// The server does not hold the event loop open (unref), so this runs when the
// tests are done; the 'exit' hook covers every other way out.
let destroyed = false;
process.on('beforeExit', () => {
  if (own && !destroyed) {
    destroyed = true;
    void own.then((s) => s.destroy()).catch(() => {});
  }
});
