// Zero-standing-privilege scores, one row per target per reconcile run
// (core/reconcile/zsp.ts): the dashboard's trend and the metric read them.

import type { Kysely, Migration } from 'kysely';

export const zspSnapshots: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('zsp_snapshots')
      .ifNotExists()
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('score', 'double precision', (c) => c.notNull())
      .addColumn('holders', 'integer', (c) => c.notNull())
      .addColumn('standing_holders', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('zsp_snapshots_pk', ['target', 'at'])
      .execute();
    await db.schema.createIndex('zsp_snapshots_at').ifNotExists().on('zsp_snapshots').column('at').execute();
  },
};
