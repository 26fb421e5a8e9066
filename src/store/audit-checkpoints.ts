// Signed audit checkpoints over Kysely (the Store port's checkpoint part).

import type { Kysely } from 'kysely';
import { checkpointFormat, windowDigest, type StoredCheckpoint } from '../core/audit/signing.js';
import type { AuditCheckpointsTable, Database } from './schema.js';

/**
 * The window digest is not stored: it is recomputed from the stored hashes,
 * and a verifier checks it against the signature like everything else here.
 */
function rowToCheckpoint(r: AuditCheckpointsTable): StoredCheckpoint {
  const windowHashes = r.window_hashes.match(/[0-9a-f]{64}/g) ?? [];
  return {
    format: checkpointFormat,
    seq: Number(r.seq),
    hash: r.hash,
    fromSeq: Number(r.from_seq),
    window: windowDigest(windowHashes),
    at: new Date(Number(r.at)).toISOString(),
    keyId: r.key_id,
    signature: r.signature,
    windowHashes,
  };
}

export class AuditCheckpoints {
  constructor(private readonly db: Kysely<Database>) {}

  /** false when a checkpoint at this seq exists already (another broker made it). */
  async insert(c: StoredCheckpoint): Promise<boolean> {
    const r = await this.db
      .insertInto('audit_checkpoints')
      .values({
        seq: c.seq,
        from_seq: c.fromSeq,
        hash: c.hash,
        at: Date.parse(c.at),
        key_id: c.keyId,
        signature: c.signature,
        window_hashes: c.windowHashes.join(''),
      })
      .onConflict((oc) => oc.column('seq').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async last(): Promise<StoredCheckpoint | undefined> {
    const r = await this.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return r ? rowToCheckpoint(r) : undefined;
  }

  async list(afterSeq: number, limit: number): Promise<StoredCheckpoint[]> {
    const rows = await this.db.selectFrom('audit_checkpoints').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
    return rows.map(rowToCheckpoint);
  }
}
