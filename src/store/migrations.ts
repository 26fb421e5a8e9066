// Versioned schema migrations, kept in code so the binary carries its schema.
// Kysely's Migrator records applied versions (and takes an advisory lock on
// PostgreSQL, so brokers starting together do not race). Statements also use
// IF NOT EXISTS so a half-recorded run can be repeated safely.
//
// Never edit a released migration; add a new one with the next number.

import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { genesisHash } from '../core/audit/chain.js';
import { sessionRecordings } from './migrations/0009-session-recordings.js';
import { reportIndexes } from './migrations/0011-report-indexes.js';
import { migrationLockTableName, migrationTableName, type AuditHeadTable } from './schema.js';
import { brokersMigration } from './migrations/0008-brokers.js';
import { zspSnapshots } from './migrations/0012-zsp-snapshots.js';
import { notificationOutbox } from './migrations/0010-notification-outbox.js';

// Migrations take Kysely<unknown>: they must not depend on today's Database
// type, which describes the schema after the *last* migration.
const initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('requests')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('profile', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('mode', 'text', (c) => c.notNull())
      .addColumn('policy', 'text', (c) => c.notNull())
      .addColumn('duration_ms', 'bigint', (c) => c.notNull())
      .addColumn('max_duration_ms', 'bigint', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('ticket', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('required_approvals', 'integer', (c) => c.notNull())
      .addColumn('approver_users', 'text', (c) => c.notNull())
      .addColumn('approver_groups', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('pending_expires_at', 'bigint')
      .addColumn('decided_at', 'bigint')
      .addColumn('decided_by', 'text')
      .addColumn('decision_comment', 'text')
      .addColumn('grant_id', 'text')
      .addColumn('version', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('requests_status_pending_expires').ifNotExists().on('requests').columns(['status', 'pending_expires_at']).execute();
    await db.schema.createIndex('requests_user').ifNotExists().on('requests').columns(['user_name', 'created_at']).execute();
    await db.schema.createIndex('requests_created').ifNotExists().on('requests').column('created_at').execute();

    // One row per approver per request: a second vote from the same person
    // fails in the database even if a caller forgets to check.
    await db.schema
      .createTable('approvals')
      .ifNotExists()
      .addColumn('request_id', 'text', (c) => c.notNull().references('requests.id').onDelete('cascade'))
      .addColumn('approver', 'text', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.notNull())
      .addColumn('comment', 'text')
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('approvals_pk', ['request_id', 'approver'])
      .execute();

    await db.schema
      .createTable('grants')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('profile', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('mode', 'text', (c) => c.notNull())
      .addColumn('account', 'text', (c) => c.notNull())
      .addColumn('roles', 'text', (c) => c.notNull())
      .addColumn('duration_ms', 'bigint', (c) => c.notNull())
      .addColumn('max_duration_ms', 'bigint', (c) => c.notNull())
      .addColumn('terminate_sessions', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('activated_at', 'bigint')
      .addColumn('expires_at', 'bigint')
      .addColumn('revoke_reason', 'text')
      .addColumn('revoke_requested_by', 'text')
      .addColumn('revoked_at', 'bigint')
      .addColumn('last_error', 'text')
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'bigint')
      .addColumn('failing_since', 'bigint')
      .addColumn('sealed_secret', 'text')
      .addColumn('version', 'integer', (c) => c.notNull())
      .execute();
    // The expiry loop, the retry loop, "my grants" and the overlap check of
    // own-account revocation; each stays an index range at 100k grants.
    await db.schema.createIndex('grants_status_expires').ifNotExists().on('grants').columns(['status', 'expires_at']).execute();
    await db.schema.createIndex('grants_status_next_attempt').ifNotExists().on('grants').columns(['status', 'next_attempt_at']).execute();
    await db.schema.createIndex('grants_user_status').ifNotExists().on('grants').columns(['user_name', 'status']).execute();
    await db.schema.createIndex('grants_target_account_status').ifNotExists().on('grants').columns(['target', 'account', 'status']).execute();
    await db.schema.createIndex('grants_created').ifNotExists().on('grants').column('created_at').execute();

    await db.schema
      .createTable('audit_events')
      .ifNotExists()
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text')
      .addColumn('grant_id', 'text')
      .addColumn('target', 'text')
      .addColumn('subject_user', 'text')
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_events_at').ifNotExists().on('audit_events').column('at').execute();
    // "What happened to this person" is the common audit question.
    await db.schema.createIndex('audit_events_subject_seq').ifNotExists().on('audit_events').columns(['subject_user', 'seq']).execute();

    await db.schema
      .createTable('audit_head')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addCheckConstraint('audit_head_single_row', sql`id = 1`)
      .execute();
    // The row exists from the start: on PostgreSQL, FOR UPDATE on an empty
    // table locks nothing, and two first appends would both get seq 1.
    await db
      .withTables<{ audit_head: AuditHeadTable }>()
      .insertInto('audit_head')
      .values({ id: 1, seq: 0, hash: genesisHash })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();

    await db.schema
      .createTable('tokens')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema.createIndex('tokens_hash').ifNotExists().unique().on('tokens').column('hash').execute();
    await db.schema.createIndex('tokens_user').ifNotExists().on('tokens').column('user_name').execute();

    await db.schema
      .createTable('target_credentials')
      .ifNotExists()
      .addColumn('target', 'text', (c) => c.primaryKey())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('meta')
      .ifNotExists()
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
};

// What the session gateways need: registered SSH public keys (the SSH
// gateway's logins), one-time connect tokens (the PostgreSQL gateway's
// `stint connect PROFILE`), and the session lease of gateway-made grants
// (see GrantRecord.sessionLeaseUntil).
const gateways = (schema: string | undefined): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('ssh_keys')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('comment', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .execute();
    // One key, one person: a key shared by two users would let either log in as the other.
    await db.schema.createIndex('ssh_keys_fingerprint').ifNotExists().unique().on('ssh_keys').column('fingerprint').execute();
    await db.schema.createIndex('ssh_keys_user').ifNotExists().on('ssh_keys').columns(['user_name', 'created_at']).execute();

    await db.schema
      .createTable('connect_tokens')
      .ifNotExists()
      .addColumn('hash', 'text', (c) => c.primaryKey())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('profile', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('connect_tokens_expires').ifNotExists().on('connect_tokens').column('expires_at').execute();

    // ADD COLUMN has no IF NOT EXISTS on SQLite: look first, so a half-recorded run can repeat.
    // (PostgreSQL lists every schema's tables; several brokers' stores may share one database.)
    const grants = (await db.introspection.getTables()).find((t) => t.name === 'grants' && (schema === undefined || t.schema === schema));
    const grantColumns = grants?.columns.map((c) => c.name) ?? [];
    if (!grantColumns.includes('session_lease_until')) {
      await db.schema.alterTable('grants').addColumn('session_lease_until', 'bigint').execute();
    }
    // The expiry loop's third range: active session-bound grants whose gateway stopped renewing.
    await db.schema.createIndex('grants_status_session_lease').ifNotExists().on('grants').columns(['status', 'session_lease_until']).execute();
  },
});

// Pages of grants by status, newest first (listGrants without a user), as an
// index range instead of a sort of every grant with that status.
const grantsStatusCreated: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('grants_status_created').ifNotExists().on('grants').columns(['status', 'created_at', 'id']).execute();
  },
};

/**
 * The expiry loop's three ranges hold only the grants that can be in them:
 * an expiry, a retry time or a session lease that is set. A grant being
 * issued then writes none of these index entries, and its activation adds
 * one instead of moving three (two of them over to another status). Every
 * query on them compares the column (`<=`, `is not null`), which the partial
 * index's condition follows from, on SQLite and PostgreSQL alike.
 */
const partialDueIndexes: Migration = {
  async up(db: Kysely<unknown>) {
    const partial = [
      ['grants_status_expires', 'expires_at'],
      ['grants_status_next_attempt', 'next_attempt_at'],
      ['grants_status_session_lease', 'session_lease_until'],
    ] as const;
    for (const [name, column] of partial) {
      await db.schema.dropIndex(name).ifExists().execute();
      await db.schema.createIndex(name).on('grants').columns(['status', column]).where(column, 'is not', null).execute();
    }
  },
};

/** Sign-ins (web and CLI) and sign-ins under way at the identity provider, shared by brokers. */
const identity: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('signins')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('groups', 'text', (c) => c.notNull())
      .addColumn('email', 'text')
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('client', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('auth_time', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('checked_at', 'bigint', (c) => c.notNull())
      .addColumn('refresh_sealed', 'text')
      .addColumn('ended_at', 'bigint')
      .addColumn('end_reason', 'text')
      .execute();
    await db.schema.createIndex('signins_user').ifNotExists().on('signins').columns(['user_name', 'created_at']).execute();
    // The provider re-check's range: live OIDC sign-ins by when they were last checked.
    await db.schema
      .createIndex('signins_live_checked')
      .ifNotExists()
      .on('signins')
      .columns(['method', 'checked_at'])
      .where(sql.ref('ended_at'), 'is', null)
      .execute();
    await db.schema
      .createTable('pending_logins')
      .ifNotExists()
      .addColumn('hash', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('pending_logins_expires').ifNotExists().on('pending_logins').column('expires_at').execute();
  },
};

/** The expiry given to tokens made before tokens expired: this long after the upgrade. */
export const upgradedTokenTtlMs = 90 * 86_400_000;

/**
 * Every API token expires and records its last use; break-glass activations
 * wait for a review by someone other than their holder.
 */
const tokensReviews = (schema: string | undefined): Migration => ({
  async up(db: Kysely<unknown>) {
    // As in 0002: look first, so a half-recorded run can repeat.
    const tokens = (await db.introspection.getTables()).find((t) => t.name === 'tokens' && (schema === undefined || t.schema === schema));
    const columns = tokens?.columns.map((c) => c.name) ?? [];
    if (!columns.includes('expires_at')) await db.schema.alterTable('tokens').addColumn('expires_at', 'bigint').execute();
    if (!columns.includes('last_used_at')) await db.schema.alterTable('tokens').addColumn('last_used_at', 'bigint').execute();
    // Tokens from before: the default lifetime counted from the upgrade, so nobody is locked out by it.
    await sql`UPDATE ${sql.table('tokens')} SET expires_at = ${Date.now() + upgradedTokenTtlMs} WHERE expires_at IS NULL`.execute(db);
    await db.schema
      .createTable('break_glass')
      .ifNotExists()
      .addColumn('grant_id', 'text', (c) => c.primaryKey())
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('profile', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('reviewed_at', 'bigint')
      .addColumn('reviewed_by', 'text')
      .addColumn('review_comment', 'text')
      .execute();
    // Open reviews, oldest first.
    await db.schema.createIndex('break_glass_open').ifNotExists().on('break_glass').column('created_at').where(sql.ref('reviewed_at'), 'is', null).execute();
  },
});

/** Signed checkpoints of the audit chain (core/audit/signing.ts), with the event hashes each one signed. */
const auditCheckpoints: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('audit_checkpoints')
      .ifNotExists()
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('from_seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('window_hashes', 'text', (c) => c.notNull())
      .execute();
  },
};

/**
 * All migrations by version; names sort in application order. `schema` is
 * the PostgreSQL schema holding the tables (undefined on SQLite).
 */
export function migrations(schema: string | undefined): Readonly<Record<string, Migration>> {
  return {
    '0001_initial': initial,
    '0002_gateways': gateways(schema),
    '0003_grants_status_created': grantsStatusCreated,
    '0004_partial_due_indexes': partialDueIndexes,
    '0005_identity': identity,
    '0006_tokens_reviews': tokensReviews(schema),
    '0007_audit_checkpoints': auditCheckpoints,
    '0008_brokers': brokersMigration(schema),
    '0009_session_recordings': sessionRecordings,
    '0010_notification_outbox': notificationOutbox,
    '0011_report_indexes': reportIndexes,
    '0012_zsp_snapshots': zspSnapshots,
  };
}

/**
 * A store a newer broker migrated is refused: this broker would misread
 * tables it does not know. Checked before migrating, outside its lock: a
 * migration this broker knows is never reported here.
 */
async function refuseNewerSchema(db: Kysely<unknown>, schema: string | undefined): Promise<void> {
  const known = Object.keys(migrations(schema)).sort();
  let applied: string[];
  try {
    const rows = await (schema ? db.withSchema(schema) : db)
      .withTables<{ [migrationTableName]: { name: string } }>()
      .selectFrom(migrationTableName)
      .select('name')
      .execute();
    applied = rows.map((r) => r.name).sort();
  } catch {
    return; // a fresh store: no bookkeeping table yet
  }
  const unknown = applied.filter((n) => !known.includes(n));
  if (unknown.length > 0)
    throw new Error(
      `the store's schema is at version ${unknown[unknown.length - 1]}, newer than this broker knows (${known[known.length - 1]}); run a broker of the version that migrated it, or newer`,
    );
}

/**
 * Brings the schema to the latest version; a no-op when it is already there.
 * `schema` (PostgreSQL only) is where the bookkeeping tables live.
 */
export async function migrateToLatest(db: Kysely<unknown>, schema?: string): Promise<void> {
  await refuseNewerSchema(db, schema);
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...migrations(schema) }) } satisfies MigrationProvider,
    migrationTableName,
    migrationLockTableName,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`store migration ${failed ?? ''} failed: ${why}`.replace('  ', ' '), { cause: error });
  }
}
