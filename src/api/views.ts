// What the API shows of each record: ISO times, durations as text and
// milliseconds, and never a sealed secret.

import { z } from 'zod';
import { formatDuration } from '../core/duration.js';
import type { ApprovalRecord, AuditEvent, GrantRecord, RequestRecord, TokenRecord } from '../core/types.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const requestView = z.object({
  id: z.string(),
  user: z.string(),
  profile: z.string(),
  target: z.string(),
  mode: z.enum(['ephemeral-account', 'own-account']),
  status: z.enum(['pending', 'approved', 'denied', 'cancelled', 'expired-unapproved']),
  duration: z.string(),
  durationMs: z.number(),
  reason: z.string().nullable(),
  ticket: z.string().nullable(),
  policy: z.string(),
  requiredApprovals: z.number(),
  createdAt: z.string(),
  pendingExpiresAt: z.string().nullable(),
  decidedAt: z.string().nullable(),
  decidedBy: z.string().nullable(),
  decisionComment: z.string().nullable(),
  grantId: z.string().nullable(),
});

export function toRequestView(r: RequestRecord): z.infer<typeof requestView> {
  return {
    id: r.id,
    user: r.user,
    profile: r.profile,
    target: r.target,
    mode: r.mode,
    status: r.status,
    duration: formatDuration(r.durationMs),
    durationMs: r.durationMs,
    reason: r.reason,
    ticket: r.ticket,
    policy: r.policy,
    requiredApprovals: r.requiredApprovals,
    createdAt: iso(r.createdAt)!,
    pendingExpiresAt: iso(r.pendingExpiresAt),
    decidedAt: iso(r.decidedAt),
    decidedBy: r.decidedBy,
    decisionComment: r.decisionComment,
    grantId: r.grantId,
  };
}

export const approvalView = z.object({ approver: z.string(), decision: z.enum(['approve', 'deny']), comment: z.string().nullable(), at: z.string() });
export const toApprovalView = (a: ApprovalRecord): z.infer<typeof approvalView> => ({ approver: a.approver, decision: a.decision, comment: a.comment, at: iso(a.at)! });

export const grantView = z.object({
  id: z.string(),
  requestId: z.string(),
  user: z.string(),
  profile: z.string(),
  target: z.string(),
  mode: z.enum(['ephemeral-account', 'own-account']),
  account: z.string(),
  roles: z.array(z.string()),
  status: z.enum(['provisioning', 'active', 'revoking', 'revoke-failing', 'revoked']),
  duration: z.string(),
  maxDuration: z.string(),
  createdAt: z.string(),
  activatedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  remainingMs: z.number().nullable(),
  revokeReason: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastError: z.string().nullable(),
  attempts: z.number(),
  failingSince: z.string().nullable(),
  sessionBound: z.boolean().describe('made by a session gateway for one connection; revoked when it closes'),
});

export function toGrantView(g: GrantRecord, now: number): z.infer<typeof grantView> {
  return {
    id: g.id,
    requestId: g.requestId,
    user: g.user,
    profile: g.profile,
    target: g.target,
    mode: g.mode,
    account: g.account,
    roles: g.roles,
    status: g.status,
    duration: formatDuration(g.durationMs),
    maxDuration: formatDuration(g.maxDurationMs),
    createdAt: iso(g.createdAt)!,
    activatedAt: iso(g.activatedAt),
    expiresAt: iso(g.expiresAt),
    remainingMs: g.status === 'active' && g.expiresAt !== null ? Math.max(0, g.expiresAt - now) : null,
    revokeReason: g.revokeReason,
    revokedAt: iso(g.revokedAt),
    lastError: g.lastError,
    attempts: g.attempts,
    failingSince: iso(g.failingSince),
    sessionBound: g.sessionLeaseUntil !== null,
  };
}

export const auditView = z.object({
  seq: z.number(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  requestId: z.string().nullable(),
  grantId: z.string().nullable(),
  target: z.string().nullable(),
  user: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

export function toAuditView(e: AuditEvent): z.infer<typeof auditView> {
  return { seq: e.seq, at: iso(e.at)!, actor: e.actor, action: e.action, requestId: e.requestId, grantId: e.grantId, target: e.target, user: e.subjectUser, details: e.details, prevHash: e.prevHash, hash: e.hash };
}

export const tokenView = z.object({
  id: z.string(), user: z.string(), description: z.string().nullable(), createdAt: z.string(), expiresAt: z.string(), revokedAt: z.string().nullable(), lastUsedAt: z.string().nullable(),
});
export const toTokenView = (t: TokenRecord): z.infer<typeof tokenView> => ({
  id: t.id, user: t.user, description: t.description, createdAt: iso(t.createdAt)!, expiresAt: iso(t.expiresAt)!, revokedAt: iso(t.revokedAt), lastUsedAt: iso(t.lastUsedAt),
});

/** A signed checkpoint of the audit chain, as a checkpoint file holds it (core/audit/signing.ts). */
export const checkpointFileView = z.object({
  format: z.string(), seq: z.number(), hash: z.string(), fromSeq: z.number(), window: z.string(), at: z.string(), keyId: z.string(), signature: z.string(),
});
/** With the hashes of the events after fromSeq up to seq, in order: what `window` digests. */
export const storedCheckpointView = checkpointFileView.extend({ windowHashes: z.array(z.string()) });
