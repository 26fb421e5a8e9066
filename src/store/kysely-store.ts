// The one Store implementation, over Kysely, for SQLite and PostgreSQL alike:
// here its transactions, their locks, migrations and closing; the port's
// reads and writes in kysely-tx.ts. Dialect differences are confined to
// PostgreSQL locking the audit head row with FOR UPDATE and taking advisory
// locks (SQLite write transactions are already exclusive), and creating its
// schema in migrate().
//
// Concurrency contract:
// - casRequest/casGrant are single conditional UPDATEs on `version`; under
//   PostgreSQL's READ COMMITTED the loser re-checks the WHERE clause after the
//   winner commits, so exactly one of two racing writers with the same version
//   succeeds, across brokers too.
// - appendAudit serializes on the audit_head row; append audit events last in a
//   transaction, after its CAS updates, so lock order is always rows → head.
// - Inside `transaction(fn)` use the `tx` argument only. Calling the outer
//   store there waits forever: on SQLite for the one connection, on
//   PostgreSQL (after an append) for the audit head row this transaction holds.

import { sql, type Kysely } from 'kysely';
import type { ReportItem, ReportQuery, SessionRecordingRecord, Store, StoreTx, TxLocks } from '../core/ports.js';
import type { AuditEvent, AuditInput } from '../core/types.js';
import type { StoredCheckpoint } from '../core/audit/signing.js';
import { AuditCheckpoints } from './audit-checkpoints.js';
import { ZspSnapshots } from './zsp-snapshots.js';
import type { ZspSnapshot } from '../core/reconcile/zsp.js';
import { KyselyStoreTx, type StoreDialect } from './kysely-tx.js';
import { migrateToLatest } from './migrations.js';
import { ReportReads } from './report-reads.js';
import { SessionRecordings } from './session-recordings.js';
import type { Database } from './schema.js';
import { StatementCache } from './statement-cache.js';

export interface KyselyStoreOptions {
  dialect: StoreDialect;
  /** PostgreSQL schema holding the tables (created by migrate()); the connection's search_path must point at it. */
  schema?: string;
  /** Runs before the connection closes (the SQLite checkpoint worker stops). */
  beforeClose?: () => Promise<void>;
}

/** A transaction: the store's reads and writes, and its locks. */
class KyselyTx extends KyselyStoreTx implements TxLocks {
  async lock(key: string): Promise<void> {
    // SQLite: a write transaction already excludes every other (one connection, in order).
    if (this.dialectName !== 'postgres') return;
    await sql`SELECT pg_advisory_xact_lock(hashtext('stint.store'), hashtext(${key}))`.execute(this.db);
  }
}

export class KyselyStore extends KyselyStoreTx implements Store {
  readonly dialect: StoreDialect;

  constructor(
    private readonly root: Kysely<Database>,
    private readonly options: KyselyStoreOptions,
  ) {
    super(root, options.dialect, new StatementCache());
    this.dialect = options.dialect;
    this.checkpoints = new AuditCheckpoints(root);
    this.zsp = new ZspSnapshots(root);
    this.recordings = new SessionRecordings(root);
  }

  private readonly zsp: ZspSnapshots;

  insertZspSnapshots(rows: ZspSnapshot[]): Promise<void> {
    return this.zsp.insert(rows);
  }

  listZspSnapshots(q: { since: number; target?: string }): Promise<ZspSnapshot[]> {
    return this.zsp.list(q);
  }

  latestZspSnapshots(): Promise<ZspSnapshot[]> {
    return this.zsp.latest();
  }

  pruneZspSnapshots(before: number): Promise<number> {
    return this.zsp.prune(before);
  }

  private readonly recordings: SessionRecordings;

  insertSessionRecording(r: Omit<SessionRecordingRecord, 'touchedAt' | 'endedAt' | 'end'>): Promise<void> {
    return this.recordings.insertSessionRecording(r);
  }

  appendSessionChunk(sessionId: string, stream: string, seq: number, data: string): Promise<void> {
    return this.recordings.appendSessionChunk(sessionId, stream, seq, data);
  }

  touchSessionRecording(sessionId: string, at: number): Promise<void> {
    return this.recordings.touchSessionRecording(sessionId, at);
  }

  endSessionRecording(sessionId: string, endedAt: number, end: string): Promise<void> {
    return this.recordings.endSessionRecording(sessionId, endedAt, end);
  }

  getSessionRecording(sessionId: string): Promise<SessionRecordingRecord | undefined> {
    return this.recordings.getSessionRecording(sessionId);
  }

  listSessionRecordings(filter: { user?: string; grantId?: string; limit: number }): Promise<SessionRecordingRecord[]> {
    return this.recordings.listSessionRecordings(filter);
  }

  listSessionStreams(sessionIds: readonly string[]): Promise<{ sessionId: string; stream: string }[]> {
    return this.recordings.listSessionStreams(sessionIds);
  }

  readSessionChunks(sessionId: string, stream: string, afterSeq: number, limit: number): Promise<{ seq: number; data: string }[]> {
    return this.recordings.readSessionChunks(sessionId, stream, afterSeq, limit);
  }

  deleteSessionRecordings(before: number, limit: number): Promise<number> {
    return this.recordings.deleteSessionRecordings(before, limit);
  }

  private readonly checkpoints: AuditCheckpoints;

  reportPage(q: ReportQuery): Promise<ReportItem[]> {
    return new ReportReads(this.root).page(q);
  }

  insertAuditCheckpoint(c: StoredCheckpoint): Promise<boolean> {
    return this.checkpoints.insert(c);
  }

  lastAuditCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return this.checkpoints.last();
  }

  listAuditCheckpoints(afterSeq: number, limit: number): Promise<StoredCheckpoint[]> {
    return this.checkpoints.list(afterSeq, limit);
  }

  transaction<T>(fn: (tx: StoreTx & TxLocks) => Promise<T>): Promise<T> {
    return this.root.transaction().execute(async (trx) => {
      const tx = new KyselyTx(trx, this.dialect, this.statements);
      const out = await fn(tx);
      await tx.flushAudit();
      return out;
    });
  }

  /** Outside a transaction, an append gets its own so the head lock is held until the event commits. */
  override appendAudit(input: AuditInput): Promise<AuditEvent> {
    return this.transaction((tx) => tx.appendAudit(input));
  }

  override async flushAudit(): Promise<void> {
    // Outside a transaction nothing is ever pending (appendAudit above has its own).
  }

  async migrate(): Promise<void> {
    const schema = this.options.schema;
    if (schema !== undefined) {
      // Before the migrator: with search_path set to a missing schema, its
      // unqualified CREATE TABLEs would have nowhere to go. Checked first
      // because CREATE SCHEMA IF NOT EXISTS still needs CREATE on the
      // database, which a least-privileged broker role may lack.
      const exists = async () =>
        (await sql<{ n: number }>`select count(*)::int as n from pg_namespace where nspname = ${schema}`.execute(this.root)).rows[0]?.n === 1;
      if (!(await exists())) {
        await sql`create schema if not exists ${sql.id(schema)}`.execute(this.root).catch(async (err: unknown) => {
          // Two brokers creating it at once: the loser's error is harmless if it now exists.
          if (!(await exists())) throw err;
        });
      }
    }
    await migrateToLatest(this.root as Kysely<unknown>, schema);
  }

  async close(): Promise<void> {
    await this.options.beforeClose?.();
    await this.root.destroy();
  }
}

/** Wraps an open Kysely instance (which the store then owns and closes). */
export function createKyselyStore(db: Kysely<Database>, options: KyselyStoreOptions): Store {
  return new KyselyStore(db, options);
}
