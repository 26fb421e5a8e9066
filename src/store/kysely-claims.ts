// Claimed work and broker heartbeats over Kysely (the Store port's
// claimDueGrants, claimGrant, renewClaims and the brokers table), for SQLite
// and PostgreSQL. A claim is a lease on a grant's work: `claimed_by` and
// `claimed_until`, written without bumping `version`, so the grant's state
// changes keep their compare-and-swap while the lease moves.

import { sql, type Kysely, type Transaction } from 'kysely';
import type { BrokerRecord, BrokerStatus, GrantRecord } from '../core/types.js';
import { rowToGrant } from './rows.js';
import type { Database } from './schema.js';
import type { StoreDialect } from './kysely-records-tx.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Free or lapsed at `now`. */
const lapsed = (now: number) => sql<boolean>`(claimed_until is null or claimed_until <= ${now})`;

/** Free, lapsed at `now`, or already `holder`'s. */
const claimable = (now: number, holder: string) => sql<boolean>`(claimed_until is null or claimed_until <= ${now} or claimed_by = ${holder})`;

/** The three kinds of due work, as listDueGrants (kysely-tx.ts) reads them: which rows and in which order. */
const dueParts = (now: number) =>
  [
    { where: sql<boolean>`status = 'active' and expires_at <= ${now}`, order: 'expires_at' },
    { where: sql<boolean>`status = 'active' and session_lease_until <= ${now}`, order: 'session_lease_until' },
    { where: sql<boolean>`status in ('revoking', 'revoke-failing') and next_attempt_at <= ${now}`, order: 'next_attempt_at' },
  ] as const;

export async function claimDueGrants(db: Db, dialect: StoreDialect, now: number, limit: number, holder: string, until: number): Promise<GrantRecord[]> {
  if (db.isTransaction) return claimDueIn(db, dialect, now, limit, holder, until);
  return db.transaction().execute((trx) => claimDueIn(trx, dialect, now, limit, holder, until));
}

async function claimDueIn(db: Db, dialect: StoreDialect, now: number, limit: number, holder: string, until: number): Promise<GrantRecord[]> {
  const out = new Map<string, GrantRecord>();
  for (const part of dueParts(now)) {
    const n = limit - out.size;
    if (n <= 0) break;
    // The rows picked are locked until the transaction ends (PostgreSQL: rows another broker is claiming right
    // now are skipped, not waited for) and rechecked, so each due grant goes to one claimant. SQLite runs one
    // writer at a time. Two statements, not UPDATE … WHERE id IN (SELECT … LIMIT n): PostgreSQL may run such
    // a subquery more than once and so claim more than n.
    const picked = await db
      .selectFrom('grants')
      .select('id')
      .where(part.where)
      // Not the holder's own live claims: those are work it has in hand already.
      .where(lapsed(now))
      .orderBy(part.order)
      .orderBy('id')
      .limit(n)
      .$if(dialect === 'postgres', (q) => q.forUpdate().skipLocked())
      .execute();
    if (picked.length === 0) continue;
    const rows = await db
      .updateTable('grants')
      .set({ claimed_by: holder, claimed_until: until })
      .where(
        'id',
        'in',
        picked.map((p) => p.id),
      )
      .where(part.where)
      .where(lapsed(now))
      .returningAll()
      .execute();
    for (const r of rows) out.set(r.id, rowToGrant(r));
  }
  return [...out.values()];
}

export async function claimGrant(db: Db, id: string, holder: string, now: number, until: number, force: boolean): Promise<GrantRecord | undefined> {
  const row = await db
    .updateTable('grants')
    .set({ claimed_by: holder, claimed_until: until })
    .where('id', '=', id)
    .$if(!force, (q) => q.where(claimable(now, holder)))
    .returningAll()
    .executeTakeFirst();
  return row ? rowToGrant(row) : undefined;
}

export async function renewClaims(db: Db, grantIds: readonly string[], holder: string, until: number): Promise<number> {
  let renewed = 0;
  // Bounded IN lists: SQLite allows at most 32766 bound parameters per statement.
  for (let i = 0; i < grantIds.length; i += 500) {
    const r = await db
      .updateTable('grants')
      .set({ claimed_until: until })
      .where('id', 'in', grantIds.slice(i, i + 500))
      .where('claimed_by', '=', holder)
      .executeTakeFirst();
    renewed += Number(r.numUpdatedRows);
  }
  return renewed;
}

export async function putBroker(db: Db, b: BrokerRecord): Promise<void> {
  const row = {
    id: b.id,
    address: b.address,
    version: b.version,
    config_digest: b.configDigest,
    started_at: b.startedAt,
    heartbeat_at: b.heartbeatAt,
  };
  await db
    .insertInto('brokers')
    .values(row)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({ address: row.address, version: row.version, config_digest: row.config_digest, heartbeat_at: row.heartbeat_at }),
    )
    .execute();
}

export async function listBrokers(db: Db, aliveSince: number, now: number): Promise<BrokerStatus[]> {
  const rows = await db.selectFrom('brokers').selectAll().where('heartbeat_at', '>=', aliveSince).orderBy('started_at').orderBy('id').execute();
  if (rows.length === 0) return [];
  const held = await db
    .selectFrom('grants')
    .select(['claimed_by', (eb) => eb.fn.countAll<number | string | bigint>().as('n')])
    .where(
      'claimed_by',
      'in',
      rows.map((r) => r.id),
    )
    .where('claimed_until', '>', now)
    .where('status', 'in', ['provisioning', 'active', 'revoking', 'revoke-failing'])
    .groupBy('claimed_by')
    .execute();
  const heldBy = new Map(held.map((h) => [h.claimed_by, Number(h.n)]));
  return rows.map((r) => ({
    id: r.id,
    address: r.address,
    version: r.version,
    configDigest: r.config_digest,
    startedAt: Number(r.started_at),
    heartbeatAt: Number(r.heartbeat_at),
    heldGrants: heldBy.get(r.id) ?? 0,
  }));
}

export async function deleteBrokers(db: Db, before: number, id?: string): Promise<number> {
  const r = await db
    .deleteFrom('brokers')
    .where((eb) => (id === undefined ? eb('heartbeat_at', '<', before) : eb.or([eb('heartbeat_at', '<', before), eb('id', '=', id)])))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
