// The notification outbox (core/notify/notification.ts): rows written with
// the change that causes them and sent afterwards by the delivery worker.

import { sql, type Kysely, type Migration } from 'kysely';

export const notificationOutbox: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('notifications')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      // '' rather than NULL when there is no recipient, so the unique key below holds for every row.
      .addColumn('recipient', 'text', (c) => c.notNull())
      .addColumn('audience', 'text')
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('notification', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('lease_owner', 'text')
      .addColumn('lease_until', 'bigint')
      .addColumn('last_error', 'text')
      .addColumn('delivered_at', 'bigint')
      // One row per channel (and recipient) per notification: a repeated insert fails instead of sending twice.
      .addUniqueConstraint('notifications_once', ['event_id', 'channel', 'recipient'])
      .execute();
    // The worker's claim reads only pending rows, oldest due first.
    await db.schema
      .createIndex('notifications_due')
      .ifNotExists()
      .on('notifications')
      .column('next_attempt_at')
      .where(sql.ref('status'), '=', 'pending')
      .execute();
    await db.schema.createIndex('notifications_created').ifNotExists().on('notifications').columns(['status', 'created_at']).execute();
  },
};
