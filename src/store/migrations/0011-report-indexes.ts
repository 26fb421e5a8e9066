// The access report (core/report/) reads every audit event of a page of
// requests and of their grants at once; without these it would scan the
// whole chain once per page.

import type { Kysely, Migration } from 'kysely';

export const reportIndexes: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('audit_events_request_seq').ifNotExists().on('audit_events').columns(['request_id', 'seq']).execute();
    await db.schema.createIndex('audit_events_grant_seq').ifNotExists().on('audit_events').columns(['grant_id', 'seq']).execute();
  },
};
