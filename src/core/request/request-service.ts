// Requests: asking for a profile, and the approval workflow around it.
// Decisions are pure (core/policy); this service records them atomically with
// their audit events and hands approved requests to the grant service.

import { conflict, denied, forbidden, invalid, notFound, StintError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { newRequestId } from '../ids.js';
import { evaluateBreakGlass, evaluateRequest, mayDecide, tallyApprovals } from '../policy/evaluate.js';
import { requireFreshSignIn } from '../identity/signin-service.js';
import { requestFacts } from '../notify/notification.js';
import type { Clock, Logger, Notification, Notifier, Store, StoreTx, Telemetry } from '../ports.js';
import type { ApprovalRecord, AuditInput, Catalog, GrantRecord, RequestRecord, TargetDef, UserDef } from '../types.js';
import { ownAccountOf } from '../identity/own-account.js';
import type { GrantService } from '../grant/grant-service.js';
import { closedNote, createRequestHousekeeping, createRequestReads, mayView, maxPendingRequestsPerUser } from './request-housekeeping.js';

export { maxPendingRequestsPerUser };

export interface RequestSettings {
  /** Default approval window when the policy sets none. */
  pendingTimeoutMs: number;
}

/** The part of the store the request service uses. */
export type RequestStore = Pick<Store, 'transaction' | 'getRequest' | 'listRequests' | 'listStalePendingRequests' | 'listApprovals'>;

export interface RequestServiceDeps {
  store: RequestStore;
  catalog: () => Catalog;
  /** Writes a grant's intent in the approving transaction, then provisions it. */
  grants: Pick<GrantService, 'newGrant' | 'provision'>;
  clock: Clock;
  notifier: Notifier;
  log: Logger;
  telemetry: Telemetry;
  settings: RequestSettings;
  /** Why `account` is not a valid account name for the target's kind (the connector module's check); null when it is. */
  accountProblem?: (target: TargetDef, account: string) => string | null;
}

export interface CreateRequestInput {
  actor: UserDef;
  profile: string;
  durationMs: number;
  reason: string | null;
  ticket: string | null;
  /**
   * A session gateway asking for a grant that lives as long as one
   * connection: the grant is written with a session lease of this length,
   * which the gateway renews (GrantService.renewSessionLeases). Only for
   * requests a policy approves automatically.
   */
  sessionLeaseMs?: number;
  /** Break-glass: activate without approval as a member of the profile's breakGlass groups (reason required; alerted). */
  breakGlass?: boolean;
}

export interface RequestOutcome {
  request: RequestRecord;
  grant: GrantRecord | null;
}

const maxCasRetries = 5;

/**
 * A person the identity provider signs in and the config does not list: their
 * groups come with each of their own sign-ins; as a requester seen by
 * someone else, only the name matters (the policy was evaluated at request).
 */
function providerPerson(name: string): UserDef {
  return { name, groups: [], accounts: Object.create(null) as Record<string, string>, roles: [], admin: false };
}

export function createRequestService(deps: RequestServiceDeps) {
  const { store, grants, clock, notifier, log, telemetry } = deps;

  async function mustGet(id: string, tx: Pick<StoreTx, 'getRequest'> = store): Promise<RequestRecord> {
    const r = await tx.getRequest(id);
    if (!r) throw notFound(`request ${id} not found`);
    return r;
  }

  /** Inserts the grant intent and its audit event inside the approving transaction. */
  async function approveInTx(tx: StoreTx, request: RequestRecord, requester: UserDef, now: number, actor: string): Promise<GrantRecord> {
    const grant = grants.newGrant(request, requester, now);
    await tx.insertGrant(grant);
    await tx.appendAudit(provisioningEvent(grant, now, actor));
    return grant;
  }

  function provisioningEvent(grant: GrantRecord, now: number, actor: string): AuditInput {
    return {
      at: now,
      actor,
      action: 'grant.provisioning',
      requestId: grant.requestId,
      grantId: grant.id,
      target: grant.target,
      subjectUser: grant.user,
      details: {
        profile: grant.profile,
        mode: grant.mode,
        account: grant.account,
        roles: grant.roles,
        duration: formatDuration(grant.durationMs),
        ...(grant.sessionLeaseUntil !== null ? { sessionBound: true } : {}),
      },
    };
  }

  /** The person's own account on `target` (explicit, or from the target's ownAccount template), checked for its kind. */
  function ownAccountOrThrow(user: UserDef, target: TargetDef, profile: string): string {
    const account = ownAccountOf(user, target);
    if (account === undefined) {
      throw invalid(
        `profile ${profile} adds permissions to your own account on ${target.name}, but ${user.name} has none there (users[].accounts.${target.name} in the config, or ownAccount on the target)`,
      );
    }
    const why = user.accounts[target.name] === undefined ? deps.accountProblem?.(target, account) : null;
    if (why)
      throw invalid(
        `your own account on ${target.name} would be ${JSON.stringify(account)} (ownAccount ${JSON.stringify(target.ownAccount)}), which is not a valid ${target.kind} account: ${why}; ask an admin for a users[].accounts.${target.name} entry`,
      );
    return account;
  }

  /** The profile asked for and its target, from the config in force now. */
  function profileOf(name: string) {
    const catalog = deps.catalog();
    const profile = catalog.profiles.get(name);
    if (!profile) throw notFound(`profile ${JSON.stringify(name)} does not exist`);
    const target = catalog.targets.get(profile.target);
    if (!target) throw notFound(`target ${profile.target} of profile ${profile.name} does not exist`);
    return { catalog, profile, target };
  }

  async function create(input: CreateRequestInput): Promise<RequestOutcome> {
    if (input.breakGlass) return breakGlass(input);
    const { catalog, profile, target } = profileOf(input.profile);
    const user = input.actor;
    requireFreshSignIn(user, profile.stepUpMs, clock.now(), `requesting ${profile.name}`);
    const reason = input.reason?.trim() || null;
    const ticket = input.ticket?.trim() || null;
    const decision = evaluateRequest({ policies: catalog.policies, user, profile, ask: { durationMs: input.durationMs, reason, ticket } });
    if (decision.outcome === 'rejected') {
      throw decision.code === 'denied' ? denied(decision.message) : invalid(decision.message);
    }
    if (profile.mode === 'own-account') ownAccountOrThrow(user, target, profile.name);
    const auto = decision.approval.kind === 'auto';
    if (input.sessionLeaseMs !== undefined) {
      if (!auto) throw invalid(`profile ${profile.name} needs approvers, so it cannot be granted for a single session`);
      if (profile.mode !== 'ephemeral-account')
        throw invalid(`profile ${profile.name} adds permissions to your own account; only ephemeral accounts are made per session`);
      if (!Number.isSafeInteger(input.sessionLeaseMs) || input.sessionLeaseMs <= 0)
        throw invalid('the session lease must be a positive whole number of milliseconds');
    }
    const now = clock.now();
    const policyTimeout = decision.policy.pendingTimeoutMs;
    const request: RequestRecord = {
      id: newRequestId(),
      user: user.name,
      profile: profile.name,
      target: target.name,
      mode: profile.mode,
      policy: decision.policy.name,
      durationMs: input.durationMs,
      maxDurationMs: decision.maxDurationMs,
      reason,
      ticket,
      status: auto ? 'approved' : 'pending',
      requiredApprovals: decision.approval.kind === 'auto' ? 0 : decision.approval.count,
      approverUsers: decision.approval.kind === 'auto' ? [] : decision.approval.users,
      approverGroups: decision.approval.kind === 'auto' ? [] : decision.approval.groups,
      createdAt: now,
      pendingExpiresAt: auto ? null : now + (policyTimeout ?? deps.settings.pendingTimeoutMs),
      decidedAt: auto ? now : null,
      decidedBy: auto ? 'policy' : null,
      decisionComment: null,
      grantId: null,
      version: 1,
    };
    // Auto-approved: the request is born approved and pointing at its grant
    // intent, and both are inserted with their three audit events in one transaction.
    const intent = auto ? grants.newGrant(request, user, now, input.sessionLeaseMs) : null;
    if (intent) request.grantId = intent.id;
    const pendingNote: Notification = {
      kind: 'request.pending',
      at: now,
      ...requestFacts(request),
      message: `${user.name} requests ${profile.name} for ${formatDuration(request.durationMs)}${reason ? `: ${reason}` : ''}`,
    };
    const grant = await store.transaction(async (tx) => {
      if (!intent) {
        // Waiting requests are capped per user: each notifies approvers, and a flood would bury everyone else's.
        await tx.lock(`pending-requests:${user.name}`);
        const waiting = await tx.listRequests({ user: user.name, statuses: ['pending'], limit: maxPendingRequestsPerUser });
        if (waiting.length >= maxPendingRequestsPerUser) {
          throw conflict(
            `${user.name} has ${maxPendingRequestsPerUser} requests waiting for approval, the most allowed at once; cancel one first (stint cancel REQUEST)`,
          );
        }
      }
      await tx.insertRequest(request);
      if (intent) await tx.insertGrant(intent);
      await tx.appendAudit({
        at: now,
        actor: user.name,
        action: 'request.created',
        requestId: request.id,
        target: request.target,
        subjectUser: user.name,
        details: {
          profile: request.profile,
          duration: formatDuration(request.durationMs),
          reason,
          ticket,
          policy: request.policy,
          approval: auto
            ? 'auto'
            : `${request.requiredApprovals} of ${[...request.approverUsers, ...request.approverGroups.map((g) => `group:${g}`)].join(', ')}`,
        },
      });
      if (!intent) {
        await notifier.record(tx, pendingNote);
        return null;
      }
      await tx.appendAudit({
        at: now,
        actor: 'policy',
        action: 'request.approved',
        requestId: request.id,
        target: request.target,
        subjectUser: user.name,
        details: { policy: request.policy, automatic: true },
      });
      await tx.appendAudit(provisioningEvent(intent, now, 'policy'));
      return intent;
    });
    telemetry.count('requests_created', { profile: profile.name, approval: auto ? 'auto' : 'approvers' });
    log.info({ requestId: request.id, user: user.name, profile: profile.name, status: request.status }, 'request created');
    if (!grant) {
      notifier.committed(pendingNote);
      return { request, grant: null };
    }
    return { request, grant: await grants.provision(grant.id, grant) };
  }

  /**
   * A break-glass activation: approved at once without approvers, for a
   * member of the profile's breakGlass groups, with a reason. The request,
   * the grant intent, the break-glass record (unreviewed) and their audit
   * events are one transaction. Each activation is an alert: an ALERT log
   * line and the grant.break-glass notification (webhooks), and the
   * stint_break_glass_total{profile} counter.
   */
  async function breakGlass(input: CreateRequestInput): Promise<RequestOutcome> {
    const { catalog, profile, target } = profileOf(input.profile);
    const user = input.actor;
    if (input.sessionLeaseMs !== undefined) throw invalid('break-glass is not granted for a single gateway session');
    const reason = input.reason?.trim() || null;
    const ticket = input.ticket?.trim() || null;
    const decision = evaluateBreakGlass({ policies: catalog.policies, user, profile, ask: { durationMs: input.durationMs, reason, ticket } });
    if (decision.outcome === 'rejected') {
      throw decision.code === 'denied' ? denied(decision.message) : decision.code === 'forbidden' ? forbidden(decision.message) : invalid(decision.message);
    }
    if (profile.mode === 'own-account') ownAccountOrThrow(user, target, profile.name);
    const now = clock.now();
    const request: RequestRecord = {
      id: newRequestId(),
      user: user.name,
      profile: profile.name,
      target: target.name,
      mode: profile.mode,
      policy: 'break-glass',
      durationMs: input.durationMs,
      maxDurationMs: decision.maxDurationMs,
      reason,
      ticket,
      status: 'approved',
      requiredApprovals: 0,
      approverUsers: [],
      approverGroups: [],
      createdAt: now,
      pendingExpiresAt: null,
      decidedAt: now,
      decidedBy: 'break-glass',
      decisionComment: null,
      grantId: null,
      version: 1,
    };
    const intent = grants.newGrant(request, user, now);
    const alert: Notification = {
      kind: 'grant.break-glass',
      at: now,
      ...requestFacts(request),
      grantId: intent.id,
      message: `break-glass: ${user.name} activated ${profile.name} on ${target.name} for ${formatDuration(request.durationMs)} without approval (${reason}); it awaits review by someone else: stint review ${intent.id}`,
    };
    request.grantId = intent.id;
    await store.transaction(async (tx) => {
      await tx.insertRequest(request);
      await tx.insertGrant(intent);
      await notifier.record(tx, alert);
      await tx.insertBreakGlass({
        grantId: intent.id,
        requestId: request.id,
        user: user.name,
        profile: profile.name,
        target: target.name,
        reason: reason!,
        createdAt: now,
        reviewedAt: null,
        reviewedBy: null,
        reviewComment: null,
      });
      await tx.appendAudit({
        at: now,
        actor: user.name,
        action: 'request.created',
        requestId: request.id,
        target: request.target,
        subjectUser: user.name,
        details: { profile: request.profile, duration: formatDuration(request.durationMs), reason, ticket, policy: request.policy, approval: 'break-glass' },
      });
      await tx.appendAudit({
        at: now,
        actor: user.name,
        action: 'grant.break-glass',
        requestId: request.id,
        grantId: intent.id,
        target: request.target,
        subjectUser: user.name,
        details: { profile: profile.name, groups: profile.breakGlass?.groups ?? [], reason, review: 'open' },
      });
      await tx.appendAudit(provisioningEvent(intent, now, user.name));
    });
    telemetry.count('requests_created', { profile: profile.name, approval: 'break-glass' });
    telemetry.count('break_glass', { profile: profile.name });
    notifier.committed(alert);
    return { request, grant: await grants.provision(intent.id, intent) };
  }

  type Decision = 'approve' | 'deny';

  function decidedNote(r: RequestRecord, status: 'approved' | 'denied', by: string, comment: string | null, now: number): Notification {
    return {
      kind: status === 'approved' ? 'request.approved' : 'request.denied',
      at: now,
      ...requestFacts(r),
      by,
      comment,
      message: `request ${r.id} for ${r.profile} was ${status} by ${by}`,
    };
  }

  async function decide(input: { actor: UserDef; requestId: string; decision: Decision; comment: string | null }): Promise<RequestOutcome> {
    const comment = input.comment?.trim() || null;
    if (input.decision === 'deny' && !comment) throw invalid('a comment is required to deny a request');
    const requester = async (r: RequestRecord): Promise<UserDef> => {
      const u = deps.catalog().users.get(r.user) ?? (deps.catalog().peopleFromProvider ? providerPerson(r.user) : undefined);
      if (!u) throw conflict(`requester ${r.user} is no longer defined; the request cannot be approved`);
      return u;
    };
    for (let attempt = 0; attempt < maxCasRetries; attempt++) {
      const now = clock.now();
      const result = await store
        .transaction(async (tx) => {
          const r = await mustGet(input.requestId, tx);
          // One the actor may not see is not found, as for GET: its existence is not told.
          if (!mayView(r, input.actor)) throw notFound(`request ${input.requestId} not found`);
          // The requester never decides their own request, on any path, admin or not.
          const may = mayDecide(r, input.actor);
          if (!may.ok) throw forbidden(may.message);
          const rule = deps.catalog().policies.find((p) => p.name === r.policy)?.approval;
          requireFreshSignIn(input.actor, rule?.kind === 'approvers' ? rule.stepUpMs : null, now, `deciding request ${r.id}`);
          if (r.status !== 'pending') throw conflict(`request ${r.id} is already ${r.status}`);
          const existing = await tx.listApprovals(r.id);
          if (existing.some((a) => a.approver === input.actor.name)) throw conflict(`${input.actor.name} already decided on request ${r.id}`);
          const approval: ApprovalRecord = { requestId: r.id, approver: input.actor.name, decision: input.decision, comment, at: now };
          await tx.insertApproval(approval);
          await tx.appendAudit({
            at: now,
            actor: input.actor.name,
            action: input.decision === 'approve' ? 'request.approval' : 'request.denial',
            requestId: r.id,
            target: r.target,
            subjectUser: r.user,
            details: { comment },
          });
          const state = tallyApprovals(r, [...existing, approval]);
          if (state === 'pending') {
            if (!(await tx.casRequest(r.id, r.version, {}))) throw new LostRace();
            return { request: { ...r, version: r.version + 1 }, grant: null };
          }
          if (state === 'denied') {
            const patch = { status: 'denied' as const, decidedAt: now, decidedBy: input.actor.name, decisionComment: comment };
            if (!(await tx.casRequest(r.id, r.version, patch))) throw new LostRace();
            await tx.appendAudit({
              at: now,
              actor: input.actor.name,
              action: 'request.denied',
              requestId: r.id,
              target: r.target,
              subjectUser: r.user,
              details: { comment },
            });
            await notifier.record(tx, decidedNote(r, 'denied', input.actor.name, comment, now));
            return { request: { ...r, ...patch, version: r.version + 1 }, grant: null };
          }
          const grant = await approveInTx(tx, r, await requester(r), now, input.actor.name);
          const patch = { status: 'approved' as const, decidedAt: now, decidedBy: input.actor.name, decisionComment: comment, grantId: grant.id };
          // Compare-and-swap: a deny or cancel that committed first wins, and this whole transaction rolls back.
          if (!(await tx.casRequest(r.id, r.version, patch))) throw new LostRace();
          await tx.appendAudit({
            at: now,
            actor: input.actor.name,
            action: 'request.approved',
            requestId: r.id,
            target: r.target,
            subjectUser: r.user,
            details: { approvals: [...existing, approval].filter((a) => a.decision === 'approve').map((a) => a.approver) },
          });
          await notifier.record(tx, decidedNote(r, 'approved', input.actor.name, comment, now));
          return { request: { ...r, ...patch, version: r.version + 1 }, grant };
        })
        .catch((err: unknown) => {
          if (err instanceof LostRace) return null;
          throw err;
        });
      if (!result) continue;
      telemetry.count('requests_decided', { decision: result.request.status });
      log.info({ requestId: result.request.id, actor: input.actor.name, decision: input.decision, status: result.request.status }, 'request decision');
      if (result.request.status === 'approved' || result.request.status === 'denied') {
        notifier.committed(decidedNote(result.request, result.request.status, input.actor.name, comment, now));
      }
      if (result.grant) return { request: result.request, grant: await grants.provision(result.grant.id, result.grant) };
      return result;
    }
    throw conflict(`request ${input.requestId} is being decided concurrently; try again`);
  }

  async function cancel(input: { actor: UserDef; requestId: string }): Promise<RequestRecord> {
    for (let attempt = 0; attempt < maxCasRetries; attempt++) {
      const now = clock.now();
      const r = await mustGet(input.requestId);
      if (!mayView(r, input.actor)) throw notFound(`request ${input.requestId} not found`);
      if (r.user !== input.actor.name && !input.actor.admin) throw forbidden(`request ${r.id} belongs to ${r.user}; only they or an admin may cancel it`);
      if (r.status !== 'pending')
        throw conflict(
          `request ${r.id} is already ${r.status}; only pending requests can be cancelled${r.grantId ? ` (revoke grant ${r.grantId} instead)` : ''}`,
        );
      const patch = { status: 'cancelled' as const, decidedAt: now, decidedBy: input.actor.name };
      const done = await store.transaction(async (tx) => {
        if (!(await tx.casRequest(r.id, r.version, patch))) return false;
        await tx.appendAudit({
          at: now,
          actor: input.actor.name,
          action: 'request.cancelled',
          requestId: r.id,
          target: r.target,
          subjectUser: r.user,
          details: {},
        });
        await notifier.record(tx, closedNote(r, 'request.cancelled', input.actor.name, now));
        return true;
      });
      if (done) {
        notifier.committed(closedNote(r, 'request.cancelled', input.actor.name, now));
        return { ...r, ...patch, version: r.version + 1 };
      }
    }
    throw conflict(`request ${input.requestId} is changing concurrently; try again`);
  }

  return {
    create,
    approve: (i: { actor: UserDef; requestId: string; comment: string | null }) => decide({ ...i, decision: 'approve' }),
    deny: (i: { actor: UserDef; requestId: string; comment: string | null }) => decide({ ...i, decision: 'deny' }),
    cancel,
    ...createRequestHousekeeping({ store, clock, notifier }),
    ...createRequestReads({ store, mustGet }),
  };
}

/** Internal signal for a lost compare-and-swap inside a transaction. */
class LostRace extends StintError {
  constructor() {
    super('conflict', 'lost a concurrent update');
  }
}

export type RequestService = ReturnType<typeof createRequestService>;
