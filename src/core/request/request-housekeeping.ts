// What the broker does to requests on its own (cancelling a person's pending
// requests when the identity provider drops them, expiring requests nobody
// approved in time) and who may read which requests. Split from
// request-service.ts, which decides requests.

import { readsEverything } from '../identity/roles.js';
import { forbidden, notFound } from '../errors.js';
import { mayDecide } from '../policy/evaluate.js';
import { requestFacts } from '../notify/notification.js';
import type { Clock, Notification, Notifier, RequestFilter, Store } from '../ports.js';
import type { ApprovalRecord, RequestRecord, UserDef } from '../types.js';

/** Requests one user may have waiting for approval at once. */
export const maxPendingRequestsPerUser = 20;

export function createRequestHousekeeping(deps: {
  store: Pick<Store, 'transaction' | 'listRequests' | 'listStalePendingRequests'>;
  clock: Clock;
  notifier: Notifier;
}) {
  const { store, clock, notifier } = deps;

  /** Cancels every pending request of `user` (the identity provider no longer vouches for them). */
  async function cancelPendingOf(user: string, why: string): Promise<number> {
    let cancelled = 0;
    for (const r of await store.listRequests({ user, statuses: ['pending'], limit: maxPendingRequestsPerUser * 2 })) {
      const now = clock.now();
      const patch = { status: 'cancelled' as const, decidedAt: now, decidedBy: 'stint', decisionComment: why };
      const done = await store.transaction(async (tx) => {
        if (!(await tx.casRequest(r.id, r.version, patch))) return false;
        await tx.appendAudit({
          at: now,
          actor: 'stint',
          action: 'request.cancelled',
          requestId: r.id,
          target: r.target,
          subjectUser: r.user,
          details: { reason: why },
        });
        await notifier.record(tx, closedNote(r, 'request.cancelled', 'stint', now));
        return true;
      });
      if (done) {
        cancelled++;
        notifier.committed(closedNote(r, 'request.cancelled', 'stint', now));
      }
    }
    return cancelled;
  }

  /** Pending requests whose approval window passed become `expired-unapproved`, history kept. */
  async function expireStale(limit = 500): Promise<number> {
    const now = clock.now();
    const stale = await store.listStalePendingRequests(now, limit);
    let n = 0;
    for (const r of stale) {
      const ok = await store.transaction(async (tx) => {
        const patch = { status: 'expired-unapproved' as const, decidedAt: now, decidedBy: 'stint' };
        if (!(await tx.casRequest(r.id, r.version, patch))) return false;
        await tx.appendAudit({
          at: now,
          actor: 'stint',
          action: 'request.expired-unapproved',
          requestId: r.id,
          target: r.target,
          subjectUser: r.user,
          details: { waitedMs: now - r.createdAt },
        });
        await notifier.record(tx, closedNote(r, 'request.expired-unapproved', 'stint', now));
        return true;
      });
      if (ok) {
        n++;
        notifier.committed(closedNote(r, 'request.expired-unapproved', 'stint', now));
      }
    }
    return n;
  }

  return { cancelPendingOf, expireStale };
}

/** A request closed without a decision: cancelled, or expired with nobody approving in time. */
export function closedNote(r: RequestRecord, kind: 'request.cancelled' | 'request.expired-unapproved', by: string, now: number): Notification {
  return {
    kind,
    at: now,
    ...requestFacts(r),
    by,
    message:
      kind === 'request.cancelled' ? `request ${r.id} for ${r.profile} was cancelled by ${by}` : `request ${r.id} for ${r.profile} expired without approval`,
  };
}

/** Who may see a request: its requester, its possible approvers, admins and auditors. */
export function mayView(r: RequestRecord, actor: UserDef): boolean {
  return r.user === actor.name || readsEverything(actor) || r.approverUsers.includes(actor.name) || r.approverGroups.some((g) => actor.groups.includes(g));
}

export function createRequestReads(deps: { store: Pick<Store, 'listRequests' | 'listApprovals'>; mustGet: (id: string) => Promise<RequestRecord> }) {
  const { store, mustGet } = deps;

  async function get(input: { actor: UserDef; requestId: string }): Promise<{ request: RequestRecord; approvals: ApprovalRecord[] }> {
    const r = await mustGet(input.requestId);
    if (!mayView(r, input.actor)) throw notFound(`request ${input.requestId} not found`);
    return { request: r, approvals: await store.listApprovals(r.id) };
  }

  /**
   * `scope`: mine (default), approvable (pending ones the actor may decide), all (admin).
   */
  async function list(input: {
    actor: UserDef;
    scope: 'mine' | 'approvable' | 'all';
    statuses?: RequestFilter['statuses'];
    limit?: number;
  }): Promise<RequestRecord[]> {
    const limit = input.limit ?? 200;
    if (input.scope === 'all') {
      if (!readsEverything(input.actor)) throw forbidden('only admins and auditors may list every request');
      return store.listRequests({ statuses: input.statuses, limit });
    }
    if (input.scope === 'approvable') {
      const pending = await store.listRequests({ statuses: ['pending'], limit: 5000 });
      return pending.filter((r) => mayDecide(r, input.actor).ok).slice(0, limit);
    }
    return store.listRequests({ user: input.actor.name, statuses: input.statuses, limit });
  }

  return { get, list };
}
