// One row per grant end a holder was warned of (notifications.warnBefore):
// the primary key is what makes the warning go out once, whichever of several
// brokers gets there first. An extended grant has a new end, so a new row.

import type { Kysely, Migration } from 'kysely';

export const expiryWarnings: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('expiry_warnings')
      .ifNotExists()
      .addColumn('grant_id', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('warned_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('expiry_warnings_pk', ['grant_id', 'expires_at'])
      .execute();
  },
};
