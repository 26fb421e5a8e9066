// The in-memory store's tables: one Map per record family, keyed as the SQL
// tables are, and the audit chain. Records in the maps are never changed in
// place (an update stores a new object), so a transaction's copy of the state
// is a copy of the maps, not of the records.

import type {
  ApprovalRecord,
  AuditEvent,
  BreakGlassRecord,
  BrokerRecord,
  ConnectTokenRecord,
  GrantRecord,
  PendingLoginRecord,
  RequestRecord,
  SignInRecord,
  SshKeyRecord,
  TokenRecord,
} from '../../core/types.js';
import type { OutboxRecord } from '../../core/notify/notification.js';

export interface MemoryState {
  requests: Map<string, RequestRecord>;
  /** By `${requestId}\u0000${approver}` (the SQL primary key). */
  approvals: Map<string, ApprovalRecord>;
  grants: Map<string, GrantRecord>;
  audit: AuditEvent[];
  tokens: Map<string, TokenRecord>;
  breakGlass: Map<string, BreakGlassRecord>;
  connectTokens: Map<string, ConnectTokenRecord>;
  signIns: Map<string, SignInRecord>;
  pendingLogins: Map<string, PendingLoginRecord>;
  sshKeys: Map<string, SshKeyRecord>;
  targetCredentials: Map<string, { sealed: string; updatedAt: number }>;
  meta: Map<string, string>;
  brokers: Map<string, BrokerRecord>;
  /** The notification outbox, by id. */
  notifications: Map<string, OutboxRecord>;
}

export function emptyState(): MemoryState {
  return {
    requests: new Map(),
    approvals: new Map(),
    grants: new Map(),
    audit: [],
    tokens: new Map(),
    breakGlass: new Map(),
    connectTokens: new Map(),
    signIns: new Map(),
    pendingLogins: new Map(),
    sshKeys: new Map(),
    targetCredentials: new Map(),
    meta: new Map(),
    brokers: new Map(),
    notifications: new Map(),
  };
}

/** A copy a transaction can change and either keep (commit) or drop (rollback). */
export function copyState(s: MemoryState): MemoryState {
  return {
    requests: new Map(s.requests),
    approvals: new Map(s.approvals),
    grants: new Map(s.grants),
    audit: s.audit.slice(),
    tokens: new Map(s.tokens),
    breakGlass: new Map(s.breakGlass),
    connectTokens: new Map(s.connectTokens),
    signIns: new Map(s.signIns),
    pendingLogins: new Map(s.pendingLogins),
    sshKeys: new Map(s.sshKeys),
    targetCredentials: new Map(s.targetCredentials),
    meta: new Map(s.meta),
    brokers: new Map(s.brokers),
    notifications: new Map(s.notifications),
  };
}

/** Records go in and come out as copies, so a caller's later edits never reach the store. */
export const copy = <T>(v: T): T => structuredClone(v);

/** Limits come from callers and config; the SQL stores treat negative, fractional and non-finite ones this way. */
export function clampLimit(limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : undefined;
}

export function take<T>(items: T[], limit: number | undefined): T[] {
  const n = clampLimit(limit);
  return n === undefined ? items : items.slice(0, n);
}

/** Compares by the given keys in turn, as an SQL ORDER BY does (ascending; `desc` reverses all). */
export function byKeys<T>(keys: ((x: T) => number | string)[], desc = false): (a: T, b: T) => number {
  return (a, b) => {
    for (const k of keys) {
      const x = k(a);
      const y = k(b);
      if (x !== y) return (x < y ? -1 : 1) * (desc ? -1 : 1);
    }
    return 0;
  };
}

/** A unique-constraint violation, as the SQL stores raise one. */
export function duplicate(table: string, key: string): Error {
  return new Error(`duplicate key in ${table}: ${key}`);
}

/** Applies a compare-and-swap patch: only the record's own fields, never `frozen` ones; undefined skips a field (null is a value). */
export function applyPatch<T extends object>(cur: T, patch: object, frozen: readonly string[]): T {
  const next = { ...cur } as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || frozen.includes(k) || !Object.hasOwn(cur, k)) continue;
    next[k] = copy(v);
  }
  return next as T;
}
