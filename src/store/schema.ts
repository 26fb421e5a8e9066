// Kysely table types shared by the SQLite and PostgreSQL stores. Column types
// are what both drivers hand back: timestamps are integer milliseconds (int8
// in PostgreSQL, parsed to JS numbers by the pool), list-valued fields are JSON
// text, booleans are 0/1 integers, so one set of row mappers serves both.
//
// The person's name is `user_name`, not `user`: `user` is reserved in
// PostgreSQL, and an unquoted `select user from grants` silently returns the
// session's role name to whoever runs ad-hoc SQL.

import type { Selectable } from 'kysely';

export interface RequestsTable {
  id: string;
  user_name: string;
  profile: string;
  target: string;
  mode: string;
  policy: string;
  duration_ms: number;
  max_duration_ms: number;
  reason: string | null;
  ticket: string | null;
  status: string;
  required_approvals: number;
  /** JSON array of user names. */
  approver_users: string;
  /** JSON array of group names. */
  approver_groups: string;
  created_at: number;
  pending_expires_at: number | null;
  decided_at: number | null;
  decided_by: string | null;
  decision_comment: string | null;
  grant_id: string | null;
  version: number;
}

export interface ApprovalsTable {
  request_id: string;
  approver: string;
  decision: string;
  comment: string | null;
  at: number;
}

export interface GrantsTable {
  id: string;
  request_id: string;
  user_name: string;
  profile: string;
  target: string;
  mode: string;
  account: string;
  /** JSON array of target-native roles. */
  roles: string;
  duration_ms: number;
  max_duration_ms: number;
  /** 0 or 1. */
  terminate_sessions: number;
  status: string;
  created_at: number;
  activated_at: number | null;
  expires_at: number | null;
  revoke_reason: string | null;
  revoke_requested_by: string | null;
  revoked_at: number | null;
  last_error: string | null;
  attempts: number;
  next_attempt_at: number | null;
  failing_since: number | null;
  sealed_secret: string | null;
  /** Added in 0002. */
  session_lease_until: number | null;
  /** Added in 0008. */
  claimed_by: string | null;
  claimed_until: number | null;
  version: number;
}

/** Added in 0008: one row per broker, written by its heartbeat. */
export interface BrokersTable {
  id: string;
  address: string;
  version: string;
  config_digest: string;
  started_at: number;
  heartbeat_at: number;
}

export interface AuditEventsTable {
  seq: number;
  at: number;
  actor: string;
  action: string;
  request_id: string | null;
  grant_id: string | null;
  target: string | null;
  subject_user: string | null;
  /** JSON object, exactly the bytes that were hashed (after JSON normalisation). */
  details: string;
  prev_hash: string;
  hash: string;
}

/**
 * Always exactly one row (id = 1). Appenders lock it to take turns, so two
 * brokers can never both compute the same next seq. seq 0 means empty chain.
 */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface TokensTable {
  id: string;
  user_name: string;
  hash: string;
  description: string | null;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface BreakGlassTable {
  grant_id: string;
  request_id: string;
  user_name: string;
  profile: string;
  target: string;
  reason: string;
  created_at: number;
  reviewed_at: number | null;
  reviewed_by: string | null;
  review_comment: string | null;
}

export interface NotificationsTable {
  id: string;
  event_id: string;
  channel: string;
  recipient: string;
  audience: string | null;
  kind: string;
  notification: string;
  status: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  delivered_at: number | null;
}

export interface SshKeysTable {
  id: string;
  user_name: string;
  type: string;
  public_key: string;
  fingerprint: string;
  comment: string | null;
  created_at: number;
  created_by: string;
}

export interface ConnectTokensTable {
  /** SHA-256 of the secret. */
  hash: string;
  user_name: string;
  profile: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface TargetCredentialsTable {
  target: string;
  sealed: string;
  updated_at: number;
}

export interface AuditCheckpointsTable {
  seq: number;
  from_seq: number;
  hash: string;
  at: number;
  key_id: string;
  signature: string;
  /** The window's event hashes, 64 hex digits each, concatenated. */
  window_hashes: string;
}

export interface ZspSnapshotsTable {
  target: string;
  at: number;
  score: number;
  holders: number;
  standing_holders: number;
}

export interface SessionRecordingsTable {
  id: string;
  gateway: string;
  user_name: string;
  grant_id: string;
  started_at: number;
  touched_at: number;
  ended_at: number | null;
  header: string;
  end_line: string | null;
}

export interface SessionChunksTable {
  session_id: string;
  /** `log`, or `cast:N` for channel N's terminal recording. */
  stream: string;
  seq: number;
  data: string;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface SignInsTable {
  id: string;
  hash: string;
  user_name: string;
  /** JSON array. */
  groups: string;
  email: string | null;
  method: string;
  client: string;
  token_hash: string | null;
  created_at: number;
  auth_time: number;
  expires_at: number;
  checked_at: number;
  refresh_sealed: string | null;
  ended_at: number | null;
  end_reason: string | null;
}

export interface PendingLoginsTable {
  hash: string;
  kind: string;
  sealed: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface Database {
  requests: RequestsTable;
  approvals: ApprovalsTable;
  grants: GrantsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  tokens: TokensTable;
  break_glass: BreakGlassTable;
  ssh_keys: SshKeysTable;
  connect_tokens: ConnectTokensTable;
  target_credentials: TargetCredentialsTable;
  meta: MetaTable;
  signins: SignInsTable;
  pending_logins: PendingLoginsTable;
  audit_checkpoints: AuditCheckpointsTable;
  zsp_snapshots: ZspSnapshotsTable;
  session_recordings: SessionRecordingsTable;
  session_chunks: SessionChunksTable;
  brokers: BrokersTable;
  notifications: NotificationsTable;
}

/** Names of the migration bookkeeping tables (prefixed so they never clash with another Kysely app's). */
export const migrationTableName = 'stint_migration';
export const migrationLockTableName = 'stint_migration_lock';

/** A row of table T as read back. */
export type Row<T extends keyof Database> = Selectable<Database[T]>;
