// Records for store tests: complete, valid, and easy to vary.

import type { GrantRecord, RequestRecord, SshKeyRecord, TokenRecord } from '../../core/types.js';

let counter = 0;
/** Unique, sortable ids, so tests never collide inside one database. */
export const uniqueId = (prefix: string): string => `${prefix}_${String(++counter).padStart(6, '0')}_${Math.random().toString(36).slice(2, 8)}`;

/** Strings that break naive quoting, encodings or length assumptions. */
export const hostileStrings: readonly string[] = [
  `x"; DROP TABLE grants; --`,
  `'; DELETE FROM audit_events; --`,
  `Robert'); DROP TABLE requests;--`,
  `\\'\\"\\\\ %_ *? $1 :name @p0 ?`,
  'line\nbreak\r\ttab',
  '',
  ' leading and trailing ',
  // 200 code points of mixed scripts, emoji (astral), combining marks and RTL.
  Array.from({ length: 200 }, (_, i) => ['é', 'ж', '中', '🔑', 'ש', 'e\u0301', '𝔘', 'ß'][i % 8]).join(''),
];

export const t0 = 1_700_000_000_000;

export function makeRequest(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: uniqueId('req'),
    user: 'alice',
    profile: 'pg-read',
    target: 'pg-main',
    mode: 'ephemeral-account',
    policy: 'default',
    durationMs: 3_600_000,
    maxDurationMs: 8 * 3_600_000,
    reason: 'investigate incident',
    ticket: 'INC-42',
    status: 'pending',
    requiredApprovals: 1,
    approverUsers: ['bob', 'carol'],
    approverGroups: ['dba'],
    createdAt: t0,
    pendingExpiresAt: t0 + 900_000,
    decidedAt: null,
    decidedBy: null,
    decisionComment: null,
    grantId: null,
    version: 1,
    ...over,
  };
}

export function makeGrant(over: Partial<GrantRecord> = {}): GrantRecord {
  return {
    id: uniqueId('gr'),
    requestId: uniqueId('req'),
    user: 'alice',
    profile: 'pg-read',
    target: 'pg-main',
    mode: 'ephemeral-account',
    account: 'stint_alice_x1',
    roles: ['pg_read_all_data'],
    durationMs: 3_600_000,
    maxDurationMs: 8 * 3_600_000,
    terminateSessions: true,
    status: 'active',
    createdAt: t0,
    activatedAt: t0 + 1000,
    expiresAt: t0 + 3_601_000,
    revokeReason: null,
    revokeRequestedBy: null,
    revokedAt: null,
    lastError: null,
    attempts: 0,
    nextAttemptAt: null,
    failingSince: null,
    sealedSecret: 'v1:sealed:abc',
    sessionLeaseUntil: null,
    claimedBy: null,
    claimedUntil: null,
    version: 1,
    ...over,
  };
}

export function makeSshKey(over: Partial<SshKeyRecord> = {}): SshKeyRecord {
  const id = uniqueId('key');
  return {
    id,
    user: 'alice',
    type: 'ssh-ed25519',
    publicKey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${id}`,
    fingerprint: `SHA256:${id}`,
    comment: 'alice@laptop',
    createdAt: t0,
    createdBy: 'alice',
    ...over,
  };
}

export function makeToken(over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    id: uniqueId('tok'),
    user: 'alice',
    hash: uniqueId('hash'),
    description: 'laptop',
    createdAt: t0,
    expiresAt: t0 + 90 * 86_400_000,
    lastUsedAt: null,
    revokedAt: null,
    ...over,
  };
}
