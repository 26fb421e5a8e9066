// Requests, their approvals, and the break-glass reviews that follow an
// activation without approval.

import { z } from 'zod';
import { formatDuration } from '../../core/duration.js';
import { deliveryModes, requestStatuses, reviewStatuses, type ApprovalRecord, type BreakGlassRecord, type RequestRecord } from '../../core/types.js';
import { grantView } from './grants.js';
import { iso } from './time.js';

export const requestView = z.object({
  id: z.string(),
  user: z.string(),
  profile: z.string(),
  target: z.string(),
  mode: z.enum(deliveryModes),
  status: z.enum(requestStatuses),
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
export type RequestView = z.infer<typeof requestView>;

export function toRequestView(r: RequestRecord): RequestView {
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
export type ApprovalView = z.infer<typeof approvalView>;
export const toApprovalView = (a: ApprovalRecord): ApprovalView => ({ approver: a.approver, decision: a.decision, comment: a.comment, at: iso(a.at)! });

/** POST /v1/requests, approve, deny: the request and, once approved, its grant. */
export const outcomeView = z.object({ request: requestView, grant: grantView.nullable() });
export type OutcomeView = z.infer<typeof outcomeView>;

/** GET /v1/requests/:id. */
export const requestDetailView = z.object({ request: requestView, approvals: z.array(approvalView) });
export type RequestDetailView = z.infer<typeof requestDetailView>;

export const reviewView = z.object({
  grantId: z.string(),
  requestId: z.string(),
  user: z.string(),
  profile: z.string(),
  target: z.string(),
  reason: z.string(),
  activatedAt: z.string(),
  status: z.enum(reviewStatuses),
  reviewedAt: z.string().nullable(),
  reviewedBy: z.string().nullable(),
  comment: z.string().nullable(),
});
export type ReviewView = z.infer<typeof reviewView>;

export function toReviewView(b: BreakGlassRecord): ReviewView {
  return {
    grantId: b.grantId,
    requestId: b.requestId,
    user: b.user,
    profile: b.profile,
    target: b.target,
    reason: b.reason,
    activatedAt: iso(b.createdAt)!,
    status: b.reviewedAt === null ? 'open' : 'reviewed',
    reviewedAt: iso(b.reviewedAt),
    reviewedBy: b.reviewedBy,
    comment: b.reviewComment,
  };
}
