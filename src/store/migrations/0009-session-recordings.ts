// Gateway session recordings in the store, so any broker sharing it can show
// a session another broker recorded (ports.ts, SessionRecordingStore).

import type { Kysely, Migration } from 'kysely';

export const sessionRecordings: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('session_recordings')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('gateway', 'text', (c) => c.notNull())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('grant_id', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('touched_at', 'bigint', (c) => c.notNull())
      .addColumn('ended_at', 'bigint')
      .addColumn('header', 'text', (c) => c.notNull())
      .addColumn('end_line', 'text')
      .execute();
    await db.schema.createIndex('session_recordings_started').ifNotExists().on('session_recordings').columns(['started_at', 'id']).execute();
    await db.schema.createIndex('session_recordings_user').ifNotExists().on('session_recordings').columns(['user_name', 'started_at']).execute();
    await db.schema.createIndex('session_recordings_grant').ifNotExists().on('session_recordings').column('grant_id').execute();
    // The retention sweep's order.
    await db.schema.createIndex('session_recordings_touched').ifNotExists().on('session_recordings').column('touched_at').execute();
    await db.schema
      .createTable('session_chunks')
      .ifNotExists()
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('stream', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('session_chunks_pk', ['session_id', 'stream', 'seq'])
      .execute();
  },
};
