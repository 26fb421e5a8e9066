// The access report's rows: one per request in the period, with its grant,
// built from what the store keeps about it (the request, its approvals, the
// grant, a break-glass record and every audit event naming them). Pure: the
// paging is in access-report.ts, the formats in render-*.ts.

import type { ReportItem } from '../ports.js';
import type { AuditEvent } from '../types.js';

export interface ApproverFact {
  user: string;
  decision: 'approve' | 'deny';
  at: string;
  comment: string | null;
}

export interface ExtensionFact {
  at: string;
  by: string;
  actor: string;
  expiresAt: string | null;
}

export interface SessionFact {
  id: string;
  gateway: string | null;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  /** The API path of the session; its recording is under it (`/recording`). */
  link: string;
}

export interface AccessRow {
  requestId: string;
  requestedAt: string;
  requester: string;
  profile: string;
  target: string;
  mode: string;
  policy: string;
  durationMs: number;
  reason: string | null;
  ticket: string | null;
  requestStatus: string;
  /** auto: the policy approved it; approvers: people did; break-glass: no approval (reviewed after); none: not approved. */
  approval: 'auto' | 'approvers' | 'break-glass' | 'none';
  approvers: ApproverFact[];
  decidedAt: string | null;
  decidedBy: string | null;
  decisionComment: string | null;
  /** From the request to its approval (approvers only). */
  timeToApprovalMs: number | null;
  grantId: string | null;
  account: string | null;
  grants: string[];
  grantStatus: string | null;
  activatedAt: string | null;
  extensions: ExtensionFact[];
  endedAt: string | null;
  /** expired, checked-in, revoked-by-admin, session-ended, … (the grant's revoke reason). */
  endCause: string | null;
  /** Who asked for the end (a person for checked-in / revoked-by-admin; stint for expiry). */
  endedBy: string | null;
  /** The target's confirmation that the access is gone: when, and whether the account or permission still existed. */
  removalConfirmedAt: string | null;
  removalExisted: boolean | null;
  revokeFailingSince: string | null;
  revokeFailingUntil: string | null;
  revokeFailingMs: number | null;
  breakGlassReason: string | null;
  breakGlassReviewedAt: string | null;
  breakGlassReviewedBy: string | null;
  breakGlassReviewComment: string | null;
  sessions: SessionFact[];
  /** How long the grant was active (to its end, or to `now` when still live). */
  activeMs: number | null;
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function firstOf(events: AuditEvent[], action: string): AuditEvent | undefined {
  return events.find((e) => e.action === action);
}

export function toAccessRow(item: ReportItem, now: number): AccessRow {
  const { request: r, grant: g, breakGlass: bg, events } = item;
  const approval: AccessRow['approval'] = bg
    ? 'break-glass'
    : r.status === 'denied' || r.status === 'pending' || r.status === 'cancelled' || r.status === 'expired-unapproved'
      ? r.requiredApprovals === 0 && r.decidedBy === 'policy'
        ? 'auto'
        : 'none'
      : r.requiredApprovals === 0
        ? 'auto'
        : 'approvers';
  const revoked = firstOf(events, 'grant.revoked');
  const failing = firstOf(events, 'grant.revoke-failing');
  const failingSince = failing?.at ?? g?.failingSince ?? null;
  const failingUntil = failingSince !== null ? (revoked?.at ?? null) : null;
  const sessions = new Map<string, SessionFact>();
  for (const e of events) {
    const id = str(e.details.sessionId);
    if (!id || (e.action !== 'session.started' && e.action !== 'session.ended')) continue;
    const s = sessions.get(id) ?? {
      id,
      gateway: str(e.details.gateway),
      startedAt: iso(e.at)!,
      endedAt: null,
      endReason: null,
      link: `/v1/sessions/${id}`,
    };
    if (e.action === 'session.ended') Object.assign(s, { endedAt: iso(e.at), endReason: str(e.details.reason) });
    sessions.set(id, s);
  }
  const endAt = g?.revokedAt ?? null;
  return {
    requestId: r.id,
    requestedAt: iso(r.createdAt)!,
    requester: r.user,
    profile: r.profile,
    target: r.target,
    mode: r.mode,
    policy: r.policy,
    durationMs: r.durationMs,
    reason: r.reason,
    ticket: r.ticket,
    requestStatus: r.status,
    approval,
    approvers: item.approvals.map((a) => ({ user: a.approver, decision: a.decision, at: iso(a.at)!, comment: a.comment })),
    decidedAt: iso(r.decidedAt),
    decidedBy: r.decidedBy,
    decisionComment: r.decisionComment,
    timeToApprovalMs: approval === 'approvers' && r.decidedAt !== null ? r.decidedAt - r.createdAt : null,
    grantId: g?.id ?? null,
    account: g?.account ?? null,
    grants: g?.roles ?? [],
    grantStatus: g?.status ?? null,
    activatedAt: iso(g?.activatedAt),
    extensions: events
      .filter((e) => e.action === 'grant.extended')
      .map((e) => ({ at: iso(e.at)!, by: str(e.details.by) ?? '', actor: e.actor, expiresAt: str(e.details.expiresAt) })),
    endedAt: iso(endAt),
    endCause: g?.revokeReason ?? null,
    endedBy: g?.revokeRequestedBy ?? null,
    removalConfirmedAt: iso(revoked?.at),
    removalExisted: revoked && typeof revoked.details.existed === 'boolean' ? revoked.details.existed : null,
    revokeFailingSince: iso(failingSince),
    revokeFailingUntil: iso(failingUntil),
    revokeFailingMs: failingSince !== null ? (failingUntil ?? now) - failingSince : null,
    breakGlassReason: bg?.reason ?? null,
    breakGlassReviewedAt: iso(bg?.reviewedAt),
    breakGlassReviewedBy: bg?.reviewedBy ?? null,
    breakGlassReviewComment: bg?.reviewComment ?? null,
    sessions: [...sessions.values()],
    activeMs: g?.activatedAt != null ? (endAt ?? now) - g.activatedAt : null,
  };
}
