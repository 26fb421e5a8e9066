// GET /v1/reports/access as JSON (core/report/): the period, one row per
// request with its grant, and the summary. Declared here for the OpenAPI
// document and the CLI's types; the route streams it.

import { z } from 'zod';

const n = z.number();
const s = z.string();
const sn = z.string().nullable();
const nn = z.number().nullable();

export const accessRowView = z.object({
  requestId: s,
  requestedAt: s,
  requester: s,
  profile: s,
  target: s,
  mode: s,
  policy: s,
  durationMs: n,
  reason: sn,
  ticket: sn,
  requestStatus: s,
  approval: z.enum(['auto', 'approvers', 'break-glass', 'none']),
  approvers: z.array(z.object({ user: s, decision: z.enum(['approve', 'deny']), at: s, comment: sn })),
  decidedAt: sn,
  decidedBy: sn,
  decisionComment: sn,
  timeToApprovalMs: nn,
  grantId: sn,
  account: sn,
  grants: z.array(s),
  grantStatus: sn,
  activatedAt: sn,
  extensions: z.array(z.object({ at: s, by: s, actor: s, expiresAt: sn })),
  endedAt: sn,
  endCause: sn,
  endedBy: sn,
  removalConfirmedAt: sn,
  removalExisted: z.boolean().nullable(),
  revokeFailingSince: sn,
  revokeFailingUntil: sn,
  revokeFailingMs: nn,
  breakGlassReason: sn,
  breakGlassReviewedAt: sn,
  breakGlassReviewedBy: sn,
  breakGlassReviewComment: sn,
  sessions: z.array(z.object({ id: s, gateway: sn, startedAt: s, endedAt: sn, endReason: sn, link: s })),
  activeMs: nn,
});
export type AccessRowView = z.infer<typeof accessRowView>;

const requestRef = z.object({ requestId: s, requester: s, profile: s, at: s });

export const accessSummaryView = z.object({
  requests: n,
  grants: n,
  grantsByProfile: z.record(s, n),
  grantsByPerson: z.record(s, n),
  timeToApproval: z.object({ count: n, medianMs: nn, p95Ms: nn }),
  longestGrants: z.array(z.object({ grantId: s, requester: s, profile: s, activeMs: n })),
  denied: z.object({ count: n, first: z.array(requestRef) }),
  expiredUnapproved: z.object({ count: n, first: z.array(requestRef) }),
  revokeFailing: z.array(z.object({ grantId: s, target: s, account: sn, since: s, until: sn, durationMs: n })),
  breakGlass: z.object({ uses: n, openReviews: z.array(z.object({ grantId: s, requester: s, profile: s, at: s, reason: sn })) }),
});
export type AccessSummaryView = z.infer<typeof accessSummaryView>;

export const accessReportView = z.object({
  report: z.literal('access'),
  period: z.object({ from: s, to: s, target: sn, user: sn, generatedAt: s }),
  rows: z.array(accessRowView),
  summary: accessSummaryView,
});
export type AccessReportView = z.infer<typeof accessReportView>;
