// SQLite store: one better-sqlite3 connection (Kysely serializes its use).
// Fits a single broker, the demo and tests; several brokers should share
// PostgreSQL instead, though two processes on one file stay correct.

import BetterSqlite3 from 'better-sqlite3';
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import {
  CompiledQuery,
  Kysely,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
} from 'kysely';
import type { Store } from '../../core/ports.js';
import { createKyselyStore } from '../kysely-store.js';
import { withOutageErrors } from '../outage.js';
import type { Database } from '../schema.js';
import { startCheckpointer } from './checkpointer.js';
import { keepAlive, pragma } from './keep-alive.js';

/**
 * BEGIN IMMEDIATE takes the write lock when the transaction starts. With a
 * plain (deferred) BEGIN, a read-then-write transaction racing another
 * process fails with SQLITE_BUSY at the upgrade instead of waiting out
 * busy_timeout, and every store transaction here reads before it writes.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than
 * running the small statements a store issues. The store's statements come
 * from a fixed set of query shapes, so a bounded cache of prepared statements
 * keyed by SQL text serves nearly all of them. Safe because Kysely runs one
 * query at a time on the single connection and the store never streams.
 */
function withStatementCache(database: BetterSqlite3.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = database.prepare(sql);
        // Oldest first out; shapes beyond the bound (IN lists of many lengths) simply get prepared
        // again. An evicted statement is kept alive, not dropped (keep-alive.ts).
        if (cache.size >= max) {
          const oldest = cache.keys().next().value!;
          keepAlive(cache.get(oldest)!);
          cache.delete(oldest);
        }
        cache.set(sql, stmt);
      }
      return stmt;
    },
    close() {
      // Closing finalizes the statements; their JavaScript objects must still never be collected.
      for (const stmt of cache.values()) keepAlive(stmt);
      cache.clear();
      database.close();
    },
  };
}

export interface SqliteStoreOptions {
  /** File path, or ':memory:' for a private in-memory database. */
  path: string;
  /** How long to wait for another process's write lock (ms). */
  busyTimeoutMs?: number;
}

/**
 * The store file is its owner's only (0600), whatever the umask: it is
 * created so before SQLite opens it (SQLite would make it 0644 under the usual
 * umask), and an existing one (and its -wal/-shm) is brought back to 0600.
 * SQLite gives the -wal and -shm files it creates the main file's mode.
 */
function ownerOnly(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(file).mode & 0o777) !== 0o600) chmodSync(file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** Opens (creating if needed) the database file; call `migrate()` before use. */
export function createSqliteStore({ path, busyTimeoutMs = 5000 }: SqliteStoreOptions): Store {
  if (path !== ':memory:' && path !== '' && !path.startsWith('file:')) ownerOnly(path);
  const database = keepAlive(new BetterSqlite3(path));
  try {
    // WAL lets readers in other processes run during a write; NORMAL sync is
    // durable against process crashes and only risks the last commits on
    // power loss, which WAL keeps consistent.
    pragma(database, 'journal_mode = WAL');
    pragma(database, `busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    pragma(database, 'synchronous = NORMAL');
    pragma(database, 'foreign_keys = ON');
  } catch (err) {
    database.close();
    throw err;
  }
  // A file database checkpoints in a worker thread (checkpointer.ts); its own
  // commits only checkpoint if the WAL grows past ~40 MB regardless.
  const file = path !== ':memory:' && path !== '' && !path.startsWith('file::memory:');
  const checkpointer = file ? startCheckpointer(path) : null;
  if (checkpointer) {
    pragma(database, 'wal_autocheckpoint = 10000');
    // When the WAL starts over, its file is cut back to 16 MiB instead of keeping its high-water mark.
    pragma(database, `journal_size_limit = ${16 * 2 ** 20}`);
  }
  const db = new Kysely<Database>({ dialect: withOutageErrors(new ImmediateSqliteDialect({ database: withStatementCache(database) })) });
  return createKyselyStore(db, { dialect: 'sqlite', beforeClose: () => checkpointer?.stop() ?? Promise.resolve() });
}
