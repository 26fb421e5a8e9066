// Mapping between camelCase records (core/types.ts) and snake_case rows
// (schema.ts). One column map per record drives full inserts, partial CAS
// patches and reads alike, and the `satisfies` clauses make the compiler
// reject a record field or table column that is not mapped.

import type { ApprovalRecord, AuditEvent, BreakGlassRecord, GrantRecord, RequestRecord, SshKeyRecord, TokenRecord } from '../core/types.js';
import type { AuditEventsTable, BreakGlassTable, GrantsTable, RequestsTable, SshKeysTable, TokensTable } from './schema.js';

/** Fails to compile unless every table column is the target of some field. */
type CoversColumns<Map extends Record<string, string>, Table> = Exclude<keyof Table, Map[keyof Map]> extends never ? Map : never;

const requestColumns = {
  id: 'id',
  user: 'user_name',
  profile: 'profile',
  target: 'target',
  mode: 'mode',
  policy: 'policy',
  durationMs: 'duration_ms',
  maxDurationMs: 'max_duration_ms',
  reason: 'reason',
  ticket: 'ticket',
  status: 'status',
  requiredApprovals: 'required_approvals',
  approverUsers: 'approver_users',
  approverGroups: 'approver_groups',
  createdAt: 'created_at',
  pendingExpiresAt: 'pending_expires_at',
  decidedAt: 'decided_at',
  decidedBy: 'decided_by',
  decisionComment: 'decision_comment',
  grantId: 'grant_id',
  version: 'version',
} as const satisfies { [K in keyof RequestRecord]-?: keyof RequestsTable };
const requestMap: CoversColumns<typeof requestColumns, RequestsTable> = requestColumns;

const grantColumns = {
  id: 'id',
  requestId: 'request_id',
  user: 'user_name',
  profile: 'profile',
  target: 'target',
  mode: 'mode',
  account: 'account',
  roles: 'roles',
  durationMs: 'duration_ms',
  maxDurationMs: 'max_duration_ms',
  terminateSessions: 'terminate_sessions',
  status: 'status',
  createdAt: 'created_at',
  activatedAt: 'activated_at',
  expiresAt: 'expires_at',
  revokeReason: 'revoke_reason',
  revokeRequestedBy: 'revoke_requested_by',
  revokedAt: 'revoked_at',
  lastError: 'last_error',
  attempts: 'attempts',
  nextAttemptAt: 'next_attempt_at',
  failingSince: 'failing_since',
  sealedSecret: 'sealed_secret',
  sessionLeaseUntil: 'session_lease_until',
  claimedBy: 'claimed_by',
  claimedUntil: 'claimed_until',
  version: 'version',
} as const satisfies { [K in keyof GrantRecord]-?: keyof GrantsTable };
const grantMap: CoversColumns<typeof grantColumns, GrantsTable> = grantColumns;

type Codec = { encode(v: unknown): unknown; decode(v: unknown): unknown };
const json: Codec = { encode: (v) => JSON.stringify(v), decode: (v) => JSON.parse(String(v)) };
const bool: Codec = { encode: (v) => (v ? 1 : 0), decode: (v) => v === 1 || v === true || v === '1' };
const plain: Codec = { encode: (v) => v, decode: (v) => v };

const requestCodecs: Partial<Record<keyof RequestRecord, Codec>> = { approverUsers: json, approverGroups: json };
const grantCodecs: Partial<Record<keyof GrantRecord, Codec>> = { roles: json, terminateSessions: bool };

/** Fields a patch may never change: identity and the CAS version (bumped by the store only). */
const requestFrozen = new Set<string>(['id', 'version']);
const grantFrozen = new Set<string>(['id', 'version', 'requestId']);

function encode(
  record: object,
  columns: Record<string, string>,
  codecs: Partial<Record<string, Codec>>,
  frozen: ReadonlySet<string> | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(record)) {
    // Unknown keys (a caller spreading extra state into a patch) and
    // undefined values are skipped; null is a real value and is written.
    const column = columns[field];
    if (column === undefined || value === undefined || frozen?.has(field)) continue;
    out[column] = (codecs[field] ?? plain).encode(value);
  }
  return out;
}

function decode(row: object, columns: Record<string, string>, codecs: Partial<Record<string, Codec>>): Record<string, unknown> {
  const r = row as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(columns)) out[field] = (codecs[field] ?? plain).decode(r[column]);
  return out;
}

// The casts below are the one place types are asserted: the column maps
// above are checked to be complete, and the codecs produce the column types.
export const requestToRow = (r: RequestRecord): RequestsTable => encode(r, requestMap, requestCodecs, null) as unknown as RequestsTable;
export const requestPatchToRow = (p: object): Partial<RequestsTable> => encode(p, requestMap, requestCodecs, requestFrozen) as Partial<RequestsTable>;
export const rowToRequest = (row: RequestsTable): RequestRecord => decode(row, requestMap, requestCodecs) as unknown as RequestRecord;

export const grantToRow = (g: GrantRecord): GrantsTable => encode(g, grantMap, grantCodecs, null) as unknown as GrantsTable;
export const grantPatchToRow = (p: object): Partial<GrantsTable> => encode(p, grantMap, grantCodecs, grantFrozen) as Partial<GrantsTable>;
export const rowToGrant = (row: GrantsTable): GrantRecord => decode(row, grantMap, grantCodecs) as unknown as GrantRecord;

export function rowToApproval(row: { request_id: string; approver: string; decision: string; comment: string | null; at: number }): ApprovalRecord {
  return { requestId: row.request_id, approver: row.approver, decision: row.decision as ApprovalRecord['decision'], comment: row.comment, at: row.at };
}

export function rowToAuditEvent(row: AuditEventsTable): AuditEvent {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    requestId: row.request_id,
    grantId: row.grant_id,
    target: row.target,
    subjectUser: row.subject_user,
    details: JSON.parse(row.details) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export function rowToToken(row: TokensTable): TokenRecord {
  return {
    id: row.id,
    user: row.user_name,
    hash: row.hash,
    description: row.description,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    revokedAt: num(row.revoked_at),
    lastUsedAt: num(row.last_used_at),
  };
}

export function tokenToRow(t: TokenRecord): TokensTable {
  return {
    id: t.id,
    user_name: t.user,
    hash: t.hash,
    description: t.description,
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    revoked_at: t.revokedAt,
    last_used_at: t.lastUsedAt,
  };
}

export function rowToBreakGlass(row: BreakGlassTable): BreakGlassRecord {
  return {
    grantId: row.grant_id,
    requestId: row.request_id,
    user: row.user_name,
    profile: row.profile,
    target: row.target,
    reason: row.reason,
    createdAt: Number(row.created_at),
    reviewedAt: num(row.reviewed_at),
    reviewedBy: row.reviewed_by,
    reviewComment: row.review_comment,
  };
}

function num(v: number | string | null): number | null {
  return v === null ? null : Number(v);
}

export function rowToSshKey(row: SshKeysTable): SshKeyRecord {
  return {
    id: row.id,
    user: row.user_name,
    type: row.type,
    publicKey: row.public_key,
    fingerprint: row.fingerprint,
    comment: row.comment,
    createdAt: row.created_at,
    createdBy: row.created_by,
  };
}

export function sshKeyToRow(k: SshKeyRecord): SshKeysTable {
  return {
    id: k.id,
    user_name: k.user,
    type: k.type,
    public_key: k.publicKey,
    fingerprint: k.fingerprint,
    comment: k.comment,
    created_at: k.createdAt,
    created_by: k.createdBy,
  };
}
