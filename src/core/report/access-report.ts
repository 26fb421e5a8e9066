// The access report: the rows of a period read from the store page by page
// (so memory stays flat however long the period), and the summary an auditor
// reads first, accumulated as the rows go by. The formats are in render-*.ts.

import type { ReportStore } from '../ports.js';
import { toAccessRow, type AccessRow } from './access-rows.js';

export interface AccessReportQuery {
  /** Requests created in [from, to), ms. */
  from: number;
  to: number;
  target?: string;
  user?: string;
}

export const reportPageSize = 500;

/** Every row of the period, oldest request first. */
export async function* accessRows(store: ReportStore, q: AccessReportQuery, now: number, pageSize = reportPageSize): AsyncGenerator<AccessRow> {
  let after: { createdAt: number; id: string } | undefined;
  for (;;) {
    const page = await store.reportPage({ ...q, after, limit: pageSize });
    for (const item of page) yield toAccessRow(item, now);
    if (page.length < pageSize) return;
    const last = page[page.length - 1]!.request;
    after = { createdAt: last.createdAt, id: last.id };
  }
}

export interface RequestRef {
  requestId: string;
  requester: string;
  profile: string;
  at: string;
}

export interface AccessSummary {
  requests: number;
  grants: number;
  grantsByProfile: Record<string, number>;
  grantsByPerson: Record<string, number>;
  /** Requests approved by people: time from request to approval. */
  timeToApproval: { count: number; medianMs: number | null; p95Ms: number | null };
  /** The longest grants, longest first. */
  longestGrants: { grantId: string; requester: string; profile: string; activeMs: number }[];
  denied: { count: number; first: RequestRef[] };
  expiredUnapproved: { count: number; first: RequestRef[] };
  revokeFailing: { grantId: string; target: string; account: string | null; since: string; until: string | null; durationMs: number }[];
  breakGlass: { uses: number; openReviews: { grantId: string; requester: string; profile: string; at: string; reason: string | null }[] };
}

const longestKept = 10;
const refsKept = 50;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Adds rows one at a time. Memory: one number per approved request (the
 * percentiles need them all), counters per profile and person, and the few
 * rows the summary names.
 */
export function createSummary(): { add(row: AccessRow): void; result(): AccessSummary } {
  const s: AccessSummary = {
    requests: 0,
    grants: 0,
    grantsByProfile: {},
    grantsByPerson: {},
    timeToApproval: { count: 0, medianMs: null, p95Ms: null },
    longestGrants: [],
    denied: { count: 0, first: [] },
    expiredUnapproved: { count: 0, first: [] },
    revokeFailing: [],
    breakGlass: { uses: 0, openReviews: [] },
  };
  let waits = new Float64Array(1024);
  let nWaits = 0;
  const ref = (r: AccessRow): RequestRef => ({ requestId: r.requestId, requester: r.requester, profile: r.profile, at: r.requestedAt });
  return {
    add(r) {
      s.requests++;
      if (r.grantId !== null) {
        s.grants++;
        s.grantsByProfile[r.profile] = (s.grantsByProfile[r.profile] ?? 0) + 1;
        s.grantsByPerson[r.requester] = (s.grantsByPerson[r.requester] ?? 0) + 1;
      }
      if (r.timeToApprovalMs !== null) {
        if (nWaits === waits.length) {
          const bigger = new Float64Array(waits.length * 2);
          bigger.set(waits);
          waits = bigger;
        }
        waits[nWaits++] = r.timeToApprovalMs;
      }
      if (r.activeMs !== null && r.grantId !== null) {
        const l = s.longestGrants;
        if (l.length < longestKept || r.activeMs > l[l.length - 1]!.activeMs) {
          l.push({ grantId: r.grantId, requester: r.requester, profile: r.profile, activeMs: r.activeMs });
          l.sort((a, b) => b.activeMs - a.activeMs);
          if (l.length > longestKept) l.pop();
        }
      }
      if (r.requestStatus === 'denied') {
        s.denied.count++;
        if (s.denied.first.length < refsKept) s.denied.first.push(ref(r));
      }
      if (r.requestStatus === 'expired-unapproved') {
        s.expiredUnapproved.count++;
        if (s.expiredUnapproved.first.length < refsKept) s.expiredUnapproved.first.push(ref(r));
      }
      if (r.revokeFailingSince !== null && r.grantId !== null) {
        s.revokeFailing.push({
          grantId: r.grantId,
          target: r.target,
          account: r.account,
          since: r.revokeFailingSince,
          until: r.revokeFailingUntil,
          durationMs: r.revokeFailingMs ?? 0,
        });
      }
      if (r.approval === 'break-glass') {
        s.breakGlass.uses++;
        if (r.breakGlassReviewedAt === null && r.grantId !== null)
          s.breakGlass.openReviews.push({ grantId: r.grantId, requester: r.requester, profile: r.profile, at: r.requestedAt, reason: r.breakGlassReason });
      }
    },
    result() {
      const sorted = waits.slice(0, nWaits).sort();
      s.timeToApproval = { count: nWaits, medianMs: percentile(sorted, 50), p95Ms: percentile(sorted, 95) };
      return s;
    },
  };
}
