// The notification outbox over Kysely (core/notify/notification.ts), for
// SQLite and PostgreSQL. Claiming is one UPDATE … WHERE id IN (SELECT …)
// RETURNING: on PostgreSQL the inner SELECT takes FOR UPDATE SKIP LOCKED, so
// brokers claiming at once each get different rows without waiting on each
// other; on SQLite a write already excludes every other. A settle writes only
// while the lease is still the caller's, so a broker whose lease ran out (and
// whose row another broker took) cannot overwrite the newer outcome.

import type { Kysely, Transaction } from 'kysely';
import type {
  Audience,
  Notification,
  NotificationKind,
  OutboxCounts,
  OutboxFilter,
  OutboxOutcome,
  OutboxRecord,
  OutboxStatus,
} from '../core/notify/notification.js';
import type { StoreDialect } from './kysely-records-tx.js';
import type { Database, Row } from './schema.js';

const num = (v: unknown) => (v === null ? null : Number(v));

export function rowToOutbox(row: Row<'notifications'>): OutboxRecord {
  return {
    id: row.id,
    eventId: row.event_id,
    channel: row.channel,
    recipient: row.recipient === '' ? null : row.recipient,
    audience: row.audience as Audience | null,
    kind: row.kind as NotificationKind,
    notification: JSON.parse(row.notification) as Notification,
    status: row.status as OutboxStatus,
    attempts: Number(row.attempts),
    createdAt: Number(row.created_at),
    nextAttemptAt: Number(row.next_attempt_at),
    leaseOwner: row.lease_owner,
    leaseUntil: num(row.lease_until),
    lastError: row.last_error,
    deliveredAt: num(row.delivered_at),
  };
}

function outboxToRow(r: OutboxRecord): Row<'notifications'> {
  return {
    id: r.id,
    event_id: r.eventId,
    channel: r.channel,
    recipient: r.recipient ?? '',
    audience: r.audience,
    kind: r.kind,
    notification: JSON.stringify(r.notification),
    status: r.status,
    attempts: r.attempts,
    created_at: r.createdAt,
    next_attempt_at: r.nextAttemptAt,
    lease_owner: r.leaseOwner,
    lease_until: r.leaseUntil,
    last_error: r.lastError,
    delivered_at: r.deliveredAt,
  };
}

function clamp(limit: number): number {
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0;
}

export class OutboxTx {
  constructor(
    private readonly db: Kysely<Database> | Transaction<Database>,
    private readonly dialect: StoreDialect,
  ) {}

  async insert(rows: readonly OutboxRecord[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.insertInto('notifications').values(rows.map(outboxToRow)).execute();
  }

  async claim(owner: string, now: number, leaseUntil: number, limit: number): Promise<OutboxRecord[]> {
    const n = clamp(limit);
    if (n === 0) return [];
    const rows = await this.db
      .updateTable('notifications')
      .set({ lease_owner: owner, lease_until: leaseUntil })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('notifications')
          .select('id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((w) => w.or([w('lease_until', 'is', null), w('lease_until', '<=', now)]))
          .orderBy('next_attempt_at')
          .orderBy('id')
          .limit(n)
          .$if(this.dialect === 'postgres', (q) => q.forUpdate().skipLocked()),
      )
      .returningAll()
      .execute();
    return rows.map(rowToOutbox).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || (a.id < b.id ? -1 : 1));
  }

  async settle(id: string, owner: string, o: OutboxOutcome): Promise<boolean> {
    const r = await this.db
      .updateTable('notifications')
      .set({
        status: o.status,
        attempts: o.attempts,
        next_attempt_at: o.nextAttemptAt,
        last_error: o.lastError,
        delivered_at: o.deliveredAt,
        lease_owner: null,
        lease_until: null,
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return r.numUpdatedRows === 1n;
  }

  async list(filter: OutboxFilter): Promise<OutboxRecord[]> {
    const rows = await this.db
      .selectFrom('notifications')
      .selectAll()
      .$if(filter.state === 'failing', (q) => q.where((w) => w.or([w('status', '=', 'failed'), w.and([w('status', '=', 'pending'), w('attempts', '>', 0)])])))
      .$if(filter.state !== undefined && filter.state !== 'failing', (q) => q.where('status', '=', filter.state!))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .$if(filter.limit !== undefined, (q) => q.limit(clamp(filter.limit!)))
      .execute();
    return rows.map(rowToOutbox);
  }

  async count(): Promise<OutboxCounts> {
    const rows = await this.db
      .selectFrom('notifications')
      .select((eb) => ['status', eb.fn.countAll<number>().as('n'), eb.fn.sum<number>(eb.case().when('attempts', '>', 0).then(1).else(0).end()).as('tried')])
      .where('status', '!=', 'delivered')
      .groupBy('status')
      .execute();
    const out: OutboxCounts = { pending: 0, retrying: 0, failed: 0 };
    for (const r of rows) {
      if (r.status === 'pending') {
        out.pending = Number(r.n);
        out.retrying = Number(r.tried ?? 0);
      } else if (r.status === 'failed') out.failed = Number(r.n);
    }
    return out;
  }
}
