// The bookkeeping every gateway session shares, whatever it relays: the set
// of live sessions (each ended once, whoever asks first), the audit events
// of its start and end around the gateway's own record, the lease of a
// session-bound grant while it is live and its revocation when it is over,
// and the ways the grant's end reaches the session (its expiry, the target
// dropping the connection after a revoke).

import type { GrantService } from '../../core/grant/grant-service.js';
import { randomId } from '../../core/ids.js';
import type { Clock, Logger, Store } from '../../core/ports.js';
import { safeErrorText } from '../../core/scrub.js';
import { systemActor } from '../../core/system-actor.js';
import type { UserDef } from '../../core/types.js';
import type { Admission } from './admission.js';
import type { GatewayName } from './deps.js';
import { createLeaseKeeper } from './lease-keeper.js';

/** A session open now; `N` is what a gateway may tell the client as it ends (PostgreSQL: a FATAL). */
export interface LiveSession<N> {
  end(reason: string, notice?: N): Promise<void>;
}

/** One session, as the audit events and logs name it. */
export interface SessionFacts {
  sessionId: string;
  admission: Admission;
  user: UserDef;
  startedAt: number;
}

export interface SessionKeeperDeps {
  gateway: GatewayName;
  grants: Pick<GrantService, 'revoke' | 'get' | 'renewSessionLeases'>;
  store: Pick<Store, 'appendAudit'>;
  clock: Clock;
  log: Logger;
  sessionLeaseMs: number;
}

export interface SessionKeeper<N> {
  liveCount(): number;
  /**
   * Lists a session until it has ended. Its end() runs `finish` once, whoever
   * asks first (the client leaving, the target, the grant's expiry, close()).
   */
  track(finish: (reason: string, notice?: N) => Promise<void>): LiveSession<N>;
  /** Ends every live session. */
  endAll(reason: string, notice?: N): Promise<void>;
  /**
   * The gateway's record, then `session.started`: null (logged) when either
   * fails, and the session is not opened (no recording, no session). The
   * grant is the caller's to end then, after its own cleanup.
   */
  recordStart<H>(s: SessionFacts, openRecord: () => Promise<H>, details: object, logFields?: object): Promise<H | null>;
  /** The session is live: a session-bound grant's lease is renewed from now on (if anything failed before, it lapses). */
  hold(a: Admission): void;
  /** Revokes a session-bound grant (its session is over, or never opened) and stops renewing its lease. */
  endGrant(a: Admission): Promise<void>;
  /**
   * After the gateway's own teardown: ends the grant, then the record
   * (`endRecord` returns what `session.ended` adds), then `session.ended`.
   */
  recordEnd(s: SessionFacts, reason: string, endRecord: (at: number) => Promise<object>, logFields?: object): Promise<void>;
  /**
   * Calls `expired` once the grant's expiry has passed (belt and braces with
   * the expiry worker), unless it was extended meanwhile. Returns a cancel.
   */
  watchExpiry(grantId: string, expiresAt: number | null, expired: () => void): () => void;
  /** Why the target closed on a session: the grant's end (`grant-expired`, `grant-revoked`, …) or `target-closed`. */
  whyTargetClosed(grantId: string): Promise<string>;
  /** Stops renewing leases (after every session has ended). */
  stop(): void;
}

export const newSessionId = () => `ses_${randomId(12)}`;

export function createSessionKeeper<N = never>(deps: SessionKeeperDeps): SessionKeeper<N> {
  const { gateway, log, clock } = deps;
  const leases = createLeaseKeeper({ grants: deps.grants, log, leaseMs: deps.sessionLeaseMs, gateway });
  const live = new Set<LiveSession<N>>();

  async function endGrant(a: Admission): Promise<void> {
    if (a.kind !== 'session-bound') return;
    const grantId = a.grant.id;
    try {
      await deps.grants.revoke({ grantId, actor: systemActor, reason: 'session-ended' });
    } catch (err) {
      // The expiry worker retries whatever is left (the grant is revoking, or its lease lapses).
      log.error({ grantId, error: safeErrorText(err) }, `${gateway} gateway: revoking the session grant failed`);
    } finally {
      leases.release(grantId);
    }
  }

  function watchExpiry(grantId: string, expiresAt: number | null, expired: () => void): () => void {
    let timer: NodeJS.Timeout | null = null;
    let cancelled = false;
    const arm = (at: number | null) => {
      if (at === null || cancelled) return;
      const delay = Math.min(Math.max(0, at - clock.now()), 2 ** 31 - 1);
      timer = setTimeout(() => {
        void (async () => {
          const g = await deps.grants.get(grantId).catch(() => null);
          if (g && g.status === 'active' && g.expiresAt !== null && g.expiresAt > clock.now()) return arm(g.expiresAt); // extended
          if (!cancelled) expired();
        })();
      }, delay + 250);
      timer.unref();
    };
    arm(expiresAt);
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  }

  return {
    liveCount: () => live.size,
    track(finish) {
      let ended: Promise<void> | null = null;
      const session: LiveSession<N> = {
        end(reason, notice) {
          ended ??= finish(reason, notice).finally(() => live.delete(session));
          return ended;
        },
      };
      live.add(session);
      return session;
    },
    async endAll(reason, notice) {
      await Promise.all([...live].map((s) => s.end(reason, notice)));
    },
    async recordStart(s, openRecord, details, logFields = {}) {
      const grant = s.admission.grant;
      let record: Awaited<ReturnType<typeof openRecord>>;
      try {
        record = await openRecord();
        await deps.store.appendAudit({
          at: clock.now(),
          actor: s.user.name,
          action: 'session.started',
          requestId: grant.requestId,
          grantId: grant.id,
          target: grant.target,
          subjectUser: s.user.name,
          details: { sessionId: s.sessionId, gateway, account: grant.account, profile: s.admission.profile.name, grantKind: s.admission.kind, ...details },
        });
      } catch (err) {
        log.error({ sessionId: s.sessionId, error: safeErrorText(err) }, `${gateway} gateway: could not start the session record`);
        return null;
      }
      log.info(
        { sessionId: s.sessionId, user: s.user.name, profile: s.admission.profile.name, grantId: grant.id, account: grant.account, ...logFields },
        `${gateway} gateway: session started`,
      );
      return record;
    },
    hold(a) {
      if (a.kind === 'session-bound') leases.hold(a.grant.id);
    },
    endGrant,
    async recordEnd(s, reason, endRecord, logFields = {}) {
      const grant = s.admission.grant;
      await endGrant(s.admission);
      const at = clock.now();
      try {
        const details = await endRecord(at);
        await deps.store.appendAudit({
          at,
          actor: 'stint',
          action: 'session.ended',
          requestId: grant.requestId,
          grantId: grant.id,
          target: grant.target,
          subjectUser: s.user.name,
          details: { sessionId: s.sessionId, gateway, account: grant.account, reason, ...details, durationMs: at - s.startedAt },
        });
      } catch (err) {
        log.error({ sessionId: s.sessionId, error: safeErrorText(err) }, `${gateway} gateway: could not finish the session record`);
      }
      log.info(
        { sessionId: s.sessionId, user: s.user.name, grantId: grant.id, account: grant.account, reason, ...logFields },
        `${gateway} gateway: session ended`,
      );
    },
    watchExpiry,
    async whyTargetClosed(grantId) {
      try {
        const g = await deps.grants.get(grantId);
        if (g.status !== 'active') return `grant-${g.revokeReason ?? g.status}`;
      } catch {
        // keep the generic reason
      }
      return 'target-closed';
    },
    stop: () => leases.stop(),
  };
}
