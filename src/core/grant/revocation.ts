// Revoking a grant: the intent (`revoking`, audited, with a lease), the
// target call under a per-target bound, and the outcome — `revoked`, or
// `revoke-failing` with the error recorded and retried for ever with backoff.
// Also a person's or an admin's revoke (check-in), which starts the same path.

import { conflict } from '../errors.js';
import type { KeyedMutex } from '../keyed-mutex.js';
import { KeyedSemaphore } from '../keyed-mutex.js';
import type { Clock, ConnectorRegistry, Logger, Notification, Notifier, Store, Telemetry } from '../ports.js';
import { grantFacts } from '../notify/notification.js';
import { safeErrorText } from '../scrub.js';
import type { GrantRecord, UserDef } from '../types.js';
import type { Faults } from '../faults.js';
import { notYours, type GrantRecords } from './grant-records.js';
import type { GrantSettings, RevokeReason } from './grant-types.js';

/** Backoff for attempt n (1-based): initial·2^(n-1), capped, with ±50% jitter so retries spread out. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.max(1, Math.round(base * (0.5 + random())));
}

const canonicalSet = (roles: readonly string[]) => JSON.stringify([...new Set(roles)].sort());

export interface RevocationDeps {
  store: Pick<Store, 'transaction' | 'getGrant' | 'listGrants' | 'claimGrant'>;
  connectors: ConnectorRegistry;
  clock: Clock;
  notifier: Notifier;
  log: Logger;
  telemetry: Telemetry;
  settings: GrantSettings;
  faults: Faults;
  /** Per target+account lock, shared with provisioning and reconcile. */
  accountLocks: KeyedMutex;
  /** Grants in flight (shared with provisioning), reading them, and their secrets (to scrub from error text). */
  records: GrantRecords;
  onScheduleChange?: (dueAt: number) => void;
  /** This broker's id: its claims on grants, and the `broker` of the audit events of its target work. */
  brokerId: string;
}

export type Revocation = ReturnType<typeof createRevocation>;

export function createRevocation(deps: RevocationDeps) {
  const { store, connectors, clock, notifier, log, telemetry, settings, faults, accountLocks, records } = deps;
  const { inFlight, secretOf } = records;
  const { brokerId } = deps;
  const mustGet = records.get;
  const perTarget = new KeyedSemaphore(settings.revokeConcurrency);

  /**
   * CAS active/provisioning → revoking, with audit. Returns the current record
   * either way. `known` (a record just read) is tried first, saving a read.
   */
  async function markRevoking(grantId: string, reason: RevokeReason, actor: string, known?: GrantRecord): Promise<GrantRecord> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = clock.now();
      const guess = attempt === 0 && known?.id === grantId && (known.status === 'active' || known.status === 'provisioning') ? known : undefined;
      const result = await store.transaction(async (tx) => {
        const patchFor = (g: GrantRecord) => ({
          status: 'revoking' as const,
          revokeReason: reason,
          revokeRequestedBy: actor,
          nextAttemptAt: now + settings.revokeLeaseMs,
          // The target work goes to this broker, unless another one is provisioning the grant right
          // now: that one rolls back what it made once its activation fails (provisioning.ts).
          ...(g.status === 'provisioning' && g.claimedBy !== null && g.claimedBy !== brokerId && (g.claimedUntil ?? 0) > now
            ? {}
            : { claimedBy: brokerId, claimedUntil: now + settings.revokeLeaseMs }),
        });
        const cur = guess && (await tx.casGrant(guess.id, guess.version, patchFor(guess))) ? guess : await mustGet(grantId, tx);
        if (cur === guess) {
          const patch = patchFor(cur);
          await tx.appendAudit(revokingEvent(cur, now, actor, reason));
          return { ...cur, ...patch, version: cur.version + 1 };
        }
        if (cur.status !== 'active' && cur.status !== 'provisioning') return cur;
        const patch = patchFor(cur);
        if (!(await tx.casGrant(cur.id, cur.version, patch))) return null;
        await tx.appendAudit(revokingEvent(cur, now, actor, reason));
        return { ...cur, ...patch, version: cur.version + 1 };
      });
      if (result) return result;
    }
    throw conflict(`grant ${grantId} is changing too often to revoke; try again`);
  }

  function revokingEvent(cur: GrantRecord, now: number, actor: string, reason: RevokeReason) {
    return {
      at: now,
      actor,
      action: 'grant.revoking',
      requestId: cur.requestId,
      grantId: cur.id,
      target: cur.target,
      subjectUser: cur.user,
      details: { reason, account: cur.account, expiresAt: cur.expiresAt === null ? null : new Date(cur.expiresAt).toISOString(), broker: brokerId },
    };
  }

  /** Whether this broker holds the grant's revocation: its claim, on a grant still to be revoked. */
  function holds(g: GrantRecord): boolean {
    return (g.status === 'revoking' || g.status === 'revoke-failing') && g.claimedBy === brokerId;
  }

  /** Provisioning holds the grant in flight; when it hands over to revocation it releases it first, so the cleanup runs now. */
  async function revokeOwned(g: GrantRecord): Promise<GrantRecord> {
    inFlight.delete(g.id);
    return performRevoke(g);
  }

  /**
   * Removes access on the target for a `revoking`/`revoke-failing` grant and
   * records the outcome. At most `revokeConcurrency` target calls run per
   * target; the outcome is recorded after the slot is given back, so the next
   * removal starts while this one waits for the store.
   */
  async function performRevoke(g: GrantRecord): Promise<GrantRecord> {
    // The loser of a claim does nothing: the broker holding it calls the target.
    if (inFlight.has(g.id) || !holds(g)) return g;
    inFlight.add(g.id);
    try {
      return await revokeOnTarget(g);
    } finally {
      inFlight.delete(g.id);
    }
  }

  type TargetOutcome = { existed?: boolean; terminatedSessions: number; keptRoles?: string[] };
  /** What a slot on the target yielded: the grant was settled meanwhile, or the target call's outcome or error. */
  type TargetAttempt = { settled: GrantRecord } | { g: GrantRecord; started: number; outcome?: TargetOutcome; error?: unknown };

  async function revokeOnTarget(g0: GrantRecord): Promise<GrantRecord> {
    const attempt = await perTarget.run(g0.target, async (waited): Promise<TargetAttempt> => {
      // After waiting for a slot, re-read: another broker may have finished it
      // meanwhile. Either way the final compare-and-swap decides.
      const g = waited ? await mustGet(g0.id) : g0;
      if (!holds(g)) return { settled: g };
      const started = clock.now();
      faults.hit('revoke.after-intent');
      try {
        return { g, started, outcome: await removeOnTarget(g) };
      } catch (error) {
        return { g, started, error };
      }
    });
    if ('settled' in attempt) return attempt.settled;
    const { g, started } = attempt;
    if (!attempt.outcome) return revokeFailed(g, attempt.error);
    const outcome = attempt.outcome;
    faults.hit('revoke.after-target');
    const now = clock.now();
    const done = await store.transaction(async (tx) => {
      const patch = { status: 'revoked' as const, revokedAt: now, nextAttemptAt: null, lastError: null, claimedBy: null, claimedUntil: null };
      // Usually nothing changed while the target worked: swap on the version we hold; otherwise look.
      let cur = g;
      if (!(await tx.casGrant(g.id, g.version, patch))) {
        cur = await mustGet(g.id, tx);
        if (cur.status !== 'revoking' && cur.status !== 'revoke-failing') return cur;
        if (!(await tx.casGrant(cur.id, cur.version, patch))) return (await tx.getGrant(cur.id))!;
      }
      await tx.appendAudit({
        at: now,
        actor: 'stint',
        action: 'grant.revoked',
        requestId: cur.requestId,
        grantId: cur.id,
        target: cur.target,
        subjectUser: cur.user,
        details: {
          reason: cur.revokeReason,
          account: cur.account,
          ...outcome,
          attempts: cur.attempts + 1,
          broker: brokerId,
          ...(cur.failingSince !== null ? { failingSince: new Date(cur.failingSince).toISOString(), lastError: cur.lastError } : {}),
        },
      });
      await notifier.record(tx, grantNote(cur, 'grant.revoked', now));
      if (cur.failingSince !== null) await notifier.record(tx, grantNote(cur, 'grant.revoke-recovered', now));
      faults.hit('revoke.before-commit');
      return { ...cur, ...patch, version: cur.version + 1 };
    });
    if (done.status === 'revoked' && done.revokedAt === now) {
      telemetry.count('grants_revoked', { target: g.target, reason: g.revokeReason ?? 'unknown' });
      telemetry.observe('revoke_seconds', { target: g.target }, (now - started) / 1000);
      if (g.revokeReason === 'expired' && g.expiresAt !== null)
        telemetry.observe('expiry_lag_seconds', { target: g.target }, Math.max(0, now - g.expiresAt) / 1000);
      log.info({ grantId: g.id, target: g.target, account: g.account, reason: g.revokeReason }, 'grant revoked');
      notifier.committed(grantNote(done, 'grant.revoked', now));
      if (done.failingSince !== null) notifier.committed(grantNote(done, 'grant.revoke-recovered', now));
    }
    return done;
  }

  /** The target side of a revocation: the account removed, or the grant's permissions taken away. */
  async function removeOnTarget(g: GrantRecord): Promise<TargetOutcome> {
    const connector = connectors.get(g.target);
    if (g.mode === 'ephemeral-account') {
      const r = await connector.removeAccount({ account: g.account });
      return { existed: r.existed, terminatedSessions: r.terminatedSessions };
    }
    return accountLocks.run(`${g.target}\u0000${g.account}`, async () => {
      // Overlap: a permission goes only when the last grant holding it ends.
      const others = (await store.listGrants({ target: g.target, account: g.account, statuses: ['provisioning', 'active'] })).filter(
        (o) => o.id !== g.id && o.mode === 'own-account',
      );
      let toRevoke: string[];
      if (connector.grantsFormOneUnit) {
        // The set is the unit on this kind: it goes unless another grant holds exactly the same set.
        const key = canonicalSet(g.roles);
        toRevoke = others.some((o) => canonicalSet(o.roles) === key) ? [] : g.roles;
      } else {
        const held = new Set(others.flatMap((o) => o.roles));
        toRevoke = g.roles.filter((r) => !held.has(r));
      }
      const kept = g.roles.filter((r) => !toRevoke.includes(r));
      const r = await connector.revokeFromAccount({ account: g.account, grants: toRevoke, terminateSessions: g.terminateSessions && toRevoke.length > 0 });
      return { terminatedSessions: r.terminatedSessions, keptRoles: kept };
    });
  }

  async function revokeFailed(g: GrantRecord, err: unknown): Promise<GrantRecord> {
    const message = safeErrorText(err, [g.sealedSecret ? secretOf(g) : null]);
    const now = clock.now();
    const attempts = g.attempts + 1;
    const next = now + backoffMs(attempts, settings.revokeRetryInitialMs, settings.revokeRetryMaxMs);
    telemetry.count('revoke_failures', { target: g.target });
    log.error({ grantId: g.id, target: g.target, account: g.account, attempts, nextAttemptAt: next, error: message }, 'revocation failed; will retry');
    const updated = await store.transaction(async (tx) => {
      const cur = await mustGet(g.id, tx);
      if (cur.status !== 'revoking' && cur.status !== 'revoke-failing') return cur;
      const firstFailure = cur.status === 'revoking';
      // The claim goes with the attempt: the next one is due at `next`, for whichever broker claims it then.
      const patch = {
        status: 'revoke-failing' as const,
        attempts,
        lastError: message,
        nextAttemptAt: next,
        failingSince: cur.failingSince ?? now,
        claimedBy: null,
        claimedUntil: null,
      };
      if (!(await tx.casGrant(cur.id, cur.version, patch))) return (await tx.getGrant(cur.id))!;
      // The failing period starts and ends in the audit; retries in between only log.
      if (firstFailure) {
        await tx.appendAudit({
          at: now,
          actor: 'stint',
          action: 'grant.revoke-failing',
          requestId: cur.requestId,
          grantId: cur.id,
          target: cur.target,
          subjectUser: cur.user,
          details: { reason: cur.revokeReason, account: cur.account, error: message, broker: brokerId },
        });
        await notifier.record(tx, grantNote(cur, 'grant.revoke-failing', now, message));
      }
      return { ...cur, ...patch, version: cur.version + 1, firstFailure };
    });
    if ('firstFailure' in updated && updated.firstFailure) {
      notifier.committed(grantNote(g, 'grant.revoke-failing', now, message));
    }
    deps.onScheduleChange?.(next);
    return updated;
  }

  /**
   * Starts revocation: marks `revoking` (the intent) and then removes access.
   * Returns the grant as it stands afterwards (`revoked`, or `revoke-failing`
   * when the target did not confirm — it keeps being retried).
   */
  async function revoke(input: { grantId: string; actor: UserDef; reason?: RevokeReason }): Promise<GrantRecord> {
    const g = await mustGet(input.grantId);
    if (g.user !== input.actor.name && !input.actor.admin) throw notYours(g, input.actor);
    const reason: RevokeReason = input.reason ?? (g.user === input.actor.name ? 'checked-in' : 'revoked-by-admin');
    if (g.status === 'revoked') return g;
    const marked = await markRevoking(g.id, reason, input.actor.name, g);
    if ((marked.status === 'revoking' || marked.status === 'revoke-failing') && !inFlight.has(marked.id)) {
      // A revocation no broker is working on (a failing one waiting for its retry, one whose claim
      // lapsed) is finished now; one another broker holds is left to it.
      const now = clock.now();
      const mine = holds(marked) ? marked : await store.claimGrant(marked.id, brokerId, now, now + settings.revokeLeaseMs);
      if (mine) return performRevoke(mine);
    }
    return marked;
  }

  return { markRevoking, performRevoke, revokeOwned, revoke, holds };
}

function grantNote(g: GrantRecord, kind: 'grant.revoked' | 'grant.revoke-failing' | 'grant.revoke-recovered', now: number, error?: string): Notification {
  const message =
    kind === 'grant.revoked'
      ? `${g.user}'s ${g.profile} was revoked (${g.revokeReason})`
      : kind === 'grant.revoke-failing'
        ? `revocation of ${g.user}'s ${g.profile} on ${g.target} is failing: ${error}`
        : `revocation of ${g.user}'s ${g.profile} on ${g.target} went through after failing`;
  return {
    kind,
    at: now,
    ...grantFacts(g),
    by: g.revokeRequestedBy ?? undefined,
    message,
  };
}
