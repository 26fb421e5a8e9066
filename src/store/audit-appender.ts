// Appends to the audit hash chain inside one store transaction. The head is
// read (and on PostgreSQL locked) once, at the first append; the events and
// the head's new position are written together when the transaction's
// callback is done (flush), in one multi-row INSERT and one guarded UPDATE.
// Hashes and seqs are computed at append time, so the returned event is
// final. Nothing is written if the callback throws: the transaction rolls
// back as before.

import type { Kysely, Transaction } from 'kysely';
import { genesisHash, hashEvent, type HashableEvent } from '../core/audit/chain.js';
import type { Store } from '../core/ports.js';
import type { AuditEvent, AuditInput } from '../core/types.js';
import type { Database, Row } from './schema.js';
import { rowOf, type StatementCache } from './statement-cache.js';

/** Details go through JSON once before hashing, so what is hashed is exactly what is stored and read back (no Dates, no undefined). */
export function normalizeDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  if (details === undefined) return {};
  const copy: unknown = JSON.parse(JSON.stringify(details));
  if (copy === null || typeof copy !== 'object' || Array.isArray(copy)) throw new TypeError('audit details must be a JSON object');
  return copy as Record<string, unknown>;
}

const auditInsertChunk = 500;

function auditEventToRow(e: AuditEvent) {
  return {
    seq: e.seq,
    at: e.at,
    actor: e.actor,
    action: e.action,
    request_id: e.requestId,
    grant_id: e.grantId,
    target: e.target,
    subject_user: e.subjectUser,
    details: JSON.stringify(e.details),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}

export class AuditAppender {
  constructor(
    private readonly db: Kysely<Database> | Transaction<Database>,
    private readonly dialect: Store['dialect'],
    private readonly statements: StatementCache,
  ) {}

  private head: { seq: number; hash: string; writtenSeq: number } | null = null;
  private pending: AuditEvent[] = [];

  async append(input: AuditInput): Promise<AuditEvent> {
    if (!this.head) {
      const q = this.statements.get('select audit_head for append', [1], ([id]) =>
        this.db
          .selectFrom('audit_head')
          .select(['seq', 'hash'])
          .where('id', '=', id as number)
          .$if(this.dialect === 'postgres', (q) => q.forUpdate()),
      );
      const row = (await this.db.executeQuery(q)).rows[0] as Pick<Row<'audit_head'>, 'seq' | 'hash'> | undefined;
      if (!row) throw new Error('audit_head row is missing; the store is not migrated');
      this.head = { seq: row.seq, hash: row.hash, writtenSeq: row.seq };
    }
    const head = this.head;
    const event: HashableEvent = {
      seq: head.seq + 1,
      at: input.at,
      actor: input.actor,
      action: input.action,
      requestId: input.requestId ?? null,
      grantId: input.grantId ?? null,
      target: input.target ?? null,
      subjectUser: input.subjectUser ?? null,
      details: normalizeDetails(input.details),
      prevHash: head.seq === 0 ? genesisHash : head.hash,
    };
    const full: AuditEvent = { ...event, hash: hashEvent(event) };
    this.pending.push(full);
    head.seq = full.seq;
    head.hash = full.hash;
    return full;
  }

  /** Writes the events appended so far and moves the head. */
  async flush(): Promise<void> {
    const head = this.head;
    if (!head || this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    // Well under SQLite's 32766 bound parameters per statement (11 per row).
    for (let i = 0; i < events.length; i += auditInsertChunk) {
      const rows = events.slice(i, i + auditInsertChunk).map(auditEventToRow);
      const keys = Object.keys(rows[0]!);
      const values = rows.flatMap((r) => Object.values(r));
      const q = this.statements.get(`insert audit_events(${keys.join(',')}) x${rows.length}`, values, (v) =>
        this.db.insertInto('audit_events').values(rows.map((_, r) => rowOf(keys, v.slice(r * keys.length, (r + 1) * keys.length))) as never),
      );
      await this.db.executeQuery(q);
    }
    // Guarded by the old seq as well: should the lock ever be missing, a lost
    // race fails loudly here (or on the seq primary key) instead of forking the chain.
    const q = this.statements.get('move audit_head', [head.seq, head.hash, 1, head.writtenSeq], ([seq, hash, id, from]) =>
      this.db
        .updateTable('audit_head')
        .set({ seq: seq as number, hash: hash as string })
        .where('id', '=', id as number)
        .where('seq', '=', from as number),
    );
    const moved = await this.db.executeQuery(q);
    if (moved.numAffectedRows !== 1n) throw new Error(`audit head moved during append of events ${events[0]!.seq}..${head.seq}`);
    head.writtenSeq = head.seq;
  }
}
