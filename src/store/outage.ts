// A store that cannot be reached is an outage, not a bug: its errors become
// StintError('unavailable') here, at the driver, so every caller (API: 503,
// CLI: exit 7) sees one typed error however the outage showed itself, and no
// route has to recognise driver errors. Everything else passes unchanged.
//
// Recognised: PostgreSQL SQLSTATE class 08 (connection exception), 57P01-03
// (the server is shutting down, crashed, or not yet accepting connections),
// 53300 (too many connections); any failure to open a connection; socket errors (refused, reset, timed out,
// unreachable); pg's own errors for a connection that ended or a pool that
// timed out (pg gives these no code, so their fixed texts are matched here and
// nowhere else); SQLite's SQLITE_BUSY (another process kept the write lock
// past busy_timeout), SQLITE_IOERR*, SQLITE_FULL and SQLITE_CANTOPEN.

import type { DatabaseConnection, Dialect, Driver, Kysely, QueryCompiler, QueryResult, CompiledQuery, TransactionSettings } from 'kysely';
import { StintError } from '../core/errors.js';

const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const pgTexts = [
  /^Connection terminated( unexpectedly| due to connection timeout)?$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^timeout exceeded when trying to connect$/,
  /^Client was closed and is not queryable$/,
];
const sqliteCodes = /^SQLITE_(BUSY|IOERR|FULL|CANTOPEN)(_|$)/;

/** The short reason an error is a store outage ("ECONNREFUSED", "57P01", "connection ended"), or null when it is not one. */
export function outageReason(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (socketCodes.has(code) || sqliteCodes.test(code)) return code;
    if (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code) || code === '53300') return `SQLSTATE ${code}`;
  }
  if (pgTexts.some((re) => re.test(err.message))) return 'the connection ended';
  // pg wraps a failed connect in an AggregateError when the host has several addresses.
  if (err instanceof AggregateError && err.errors.length > 0 && err.errors.every((e) => outageReason(e) !== null)) return outageReason(err.errors[0]);
  return null;
}

/** The error to throw for `err`: a StintError('unavailable') for an outage, else `err` itself. */
export function mapStoreError(err: unknown): unknown {
  if (err instanceof StintError) return err;
  const reason = outageReason(err);
  if (reason === null) return err;
  const e = new StintError('unavailable', `Stint's store is unavailable (${reason}); try again shortly`);
  (e as Error).cause = err;
  return e;
}

const rethrow = (err: unknown): never => {
  throw mapStoreError(err);
};

/** Runs `f`, mapping its error whether it rejects or throws at once (Kysely's SQLite connection throws synchronously). */
async function guard<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    return rethrow(err);
  }
}

class MappedConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return guard(() => this.inner.executeQuery<R>(query));
  }
  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (err) {
      rethrow(err);
    }
  }
}

const unwrap = (c: DatabaseConnection) => (c instanceof MappedConnection ? c.inner : c);

class MappedDriver implements Driver {
  constructor(private readonly inner: Driver) {}
  init(): Promise<void> {
    return guard(() => this.inner.init());
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    try {
      return new MappedConnection(await this.inner.acquireConnection());
    } catch (err) {
      // Whatever stops a connection from opening is an outage to the caller: a database
      // refusing connections (55000, as ALLOW_CONNECTIONS false or a restart gives) as much as a refused socket.
      const mapped = mapStoreError(err);
      if (mapped instanceof StintError) throw mapped;
      const code = (err as { code?: unknown }).code;
      const e = new StintError(
        'unavailable',
        `Stint's store is unavailable (cannot open a connection${typeof code === 'string' ? `: ${/^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : code}` : ''}); try again shortly`,
      );
      (e as Error).cause = err;
      throw e;
    }
  }
  beginTransaction(c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return guard(() => this.inner.beginTransaction(unwrap(c), settings));
  }
  commitTransaction(c: DatabaseConnection): Promise<void> {
    return guard(() => this.inner.commitTransaction(unwrap(c)));
  }
  rollbackTransaction(c: DatabaseConnection): Promise<void> {
    return guard(() => this.inner.rollbackTransaction(unwrap(c)));
  }
  async savepoint(c: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (!this.inner.savepoint) throw new Error('the store driver has no savepoints');
    return guard(() => this.inner.savepoint!(unwrap(c), name, compile));
  }
  async rollbackToSavepoint(c: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (!this.inner.rollbackToSavepoint) throw new Error('the store driver has no savepoints');
    return guard(() => this.inner.rollbackToSavepoint!(unwrap(c), name, compile));
  }
  async releaseSavepoint(c: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (!this.inner.releaseSavepoint) throw new Error('the store driver has no savepoints');
    return guard(() => this.inner.releaseSavepoint!(unwrap(c), name, compile));
  }
  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(c));
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** `dialect` with its driver's outage errors turned into StintError('unavailable'). */
export function withOutageErrors(dialect: Dialect): Dialect {
  return {
    createDriver: () => new MappedDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db: Kysely<any>) => dialect.createIntrospector(db),
  };
}
