// 0008: several brokers on one store. Each grant carries the claim of the
// broker working on it (who, and until when: a lease it renews while the
// work runs), and every broker writes a heartbeat row to `brokers`.

import type { Kysely, Migration } from 'kysely';

export const brokersMigration = (schema: string | undefined): Migration => ({
  async up(db: Kysely<unknown>) {
    // SQLite has no ADD COLUMN IF NOT EXISTS: look first, so a half-recorded run repeats safely.
    const grants = (await db.introspection.getTables()).find((t) => t.name === 'grants' && (schema === undefined || t.schema === schema));
    const columns = grants?.columns.map((c) => c.name) ?? [];
    if (!columns.includes('claimed_by')) await db.schema.alterTable('grants').addColumn('claimed_by', 'text').execute();
    if (!columns.includes('claimed_until')) await db.schema.alterTable('grants').addColumn('claimed_until', 'bigint').execute();
    // The work a broker holds (`stint brokers`): a range per broker.
    await db.schema.createIndex('grants_claimed_by').ifNotExists().on('grants').columns(['claimed_by', 'claimed_until']).execute();
    await db.schema
      .createTable('brokers')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('config_digest', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
      .execute();
  },
});
