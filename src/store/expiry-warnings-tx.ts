// Expiry warnings over Kysely (core/notify/expiry-warner.ts), for SQLite and
// PostgreSQL: which active grants end within the warning window and were not
// yet warned of that end, and the insert that claims a warning. The insert
// does nothing when the row exists; on PostgreSQL a second broker inserting
// the same key waits for the first one's commit and then inserts nothing, so
// exactly one of them goes on to notify.

import type { Kysely, Transaction } from 'kysely';
import type { GrantRecord } from '../core/types.js';
import { rowToGrant } from './rows.js';
import type { Database } from './schema.js';

export async function listGrantsToWarn(db: Kysely<Database> | Transaction<Database>, now: number, until: number, limit: number): Promise<GrantRecord[]> {
  const n = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0;
  if (n === 0) return [];
  const rows = await db
    .selectFrom('grants as g')
    .selectAll('g')
    .where('g.status', '=', 'active')
    .where('g.expires_at', '>', now)
    .where('g.expires_at', '<=', until)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('expiry_warnings as w').select('w.grant_id').whereRef('w.grant_id', '=', 'g.id').whereRef('w.expires_at', '=', 'g.expires_at'))),
    )
    .orderBy('g.expires_at')
    .orderBy('g.id')
    .limit(n)
    .execute();
  return rows.map(rowToGrant);
}

export async function recordExpiryWarning(db: Kysely<Database> | Transaction<Database>, grantId: string, expiresAt: number, at: number): Promise<boolean> {
  const r = await db
    .insertInto('expiry_warnings')
    .values({ grant_id: grantId, expires_at: expiresAt, warned_at: at })
    .onConflict((oc) => oc.columns(['grant_id', 'expires_at']).doNothing())
    .executeTakeFirst();
  return (r.numInsertedOrUpdatedRows ?? 0n) === 1n;
}
