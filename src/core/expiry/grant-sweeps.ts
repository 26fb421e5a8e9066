// The grant sweeps the expiry worker and startup run: revoking grants past
// their expiry or session lease, retrying failing revocations, rolling back
// provisioning a dead broker abandoned, finishing what a restart cut short,
// and the gateways' session-lease heartbeat.
//
// Several brokers may share the store: each piece of work is claimed first
// (a lease with the broker's id, Store.claimDueGrants / claimGrant), renewed
// while it runs (renewClaims) and taken over only once it lapses. The loser
// of a claim does nothing.

import type { Clock, Logger, Store } from '../ports.js';
import { safeErrorText } from '../scrub.js';
import type { GrantRecords } from '../grant/grant-records.js';
import type { GrantSettings, RevokeReason } from '../grant/grant-types.js';
import type { Revocation } from '../grant/revocation.js';

export interface GrantSweepsDeps {
  store: Pick<Store, 'listGrants' | 'renewSessionLeases' | 'claimDueGrants' | 'claimGrant' | 'renewClaims'>;
  clock: Clock;
  log: Logger;
  settings: Pick<GrantSettings, 'provisionTimeoutMs' | 'revokeLeaseMs' | 'revokeConcurrency'>;
  records: Pick<GrantRecords, 'inFlight'>;
  revocation: Pick<Revocation, 'markRevoking' | 'performRevoke' | 'holds'>;
  brokerId: string;
}

export function createGrantSweeps(deps: GrantSweepsDeps) {
  const { store, clock, log, settings, brokerId } = deps;
  const { inFlight } = deps.records;
  const { markRevoking, performRevoke, holds } = deps.revocation;
  const lease = settings.revokeLeaseMs;
  // Claimed a few at a time, so that brokers sharing the store split a large batch between them.
  const claimChunk = Math.max(1, settings.revokeConcurrency * 4);

  /**
   * One pass of expiry and retry work: revokes active grants past expiry and
   * retries revoking/revoke-failing ones that are due, up to `limit` of them,
   * each claimed first. Returns how many it handled.
   */
  async function processDue(limit = 500): Promise<number> {
    let handled = 0;
    let first = true;
    while (handled < limit) {
      const now = clock.now();
      const chunk = Math.min(claimChunk, limit - handled);
      const due = await store.claimDueGrants(now, chunk, brokerId, now + lease);
      const claimed = due.length;
      if (first) due.push(...(await takeOverAbandoned(now, limit)));
      first = false;
      const work = due.filter((g) => !inFlight.has(g.id));
      await Promise.all(
        work.map(async (g) => {
          try {
            const reason: RevokeReason = g.expiresAt !== null && g.expiresAt <= now ? 'expired' : 'session-lost';
            const cur = g.status === 'active' ? await markRevoking(g.id, reason, 'stint', g) : g;
            if (holds(cur)) await performRevoke(cur);
          } catch (err) {
            log.error({ grantId: g.id, error: safeErrorText(err) }, 'expiry work failed; will retry');
          }
        }),
      );
      handled += work.length;
      if (claimed < chunk) break;
    }
    return handled;
  }

  /** Provisioning abandoned by a broker that died (another one, or this one before a restart): claimed, then marked for rollback. */
  async function takeOverAbandoned(now: number, limit: number) {
    const abandoned = (await store.listGrants({ statuses: ['provisioning'], limit })).filter(
      (g) => g.createdAt + settings.provisionTimeoutMs <= now && !inFlight.has(g.id) && (g.claimedUntil === null || g.claimedUntil <= now),
    );
    const out = [];
    for (const g of abandoned) {
      const claimed = await store.claimGrant(g.id, brokerId, now, now + lease);
      if (claimed?.status !== 'provisioning') continue;
      const cur = await markRevoking(g.id, 'provisioning-interrupted', 'stint', claimed);
      if (holds(cur)) out.push(cur);
    }
    return out;
  }

  /**
   * After a restart: a grant left in `provisioning` was interrupted between
   * intent and activation. It is rolled back (removed on the target, which is
   * idempotent), never left half-made.
   */
  async function recoverInterrupted(opts: { onlyAbandoned: boolean }): Promise<number> {
    // With a store shared by several brokers, another one may be working on a grant right now:
    // only take over what is older than the provisioning timeout or past its revoke lease, and
    // whose claim lapsed. A broker that owns its store (SQLite) takes everything.
    const now = clock.now();
    const stuck = (await store.listGrants({ statuses: ['provisioning', 'revoking'] })).filter(
      (g) => !opts.onlyAbandoned || (g.status === 'provisioning' ? g.createdAt + settings.provisionTimeoutMs <= now : (g.nextAttemptAt ?? 0) <= now),
    );
    // Session-bound grants belong to connections, and no connection outlives
    // its broker. A broker that owns its store (SQLite) knows every such grant
    // was its own and revokes them now; with a shared store another broker's
    // live sessions may hold some, so their leases decide (processDue).
    if (!opts.onlyAbandoned) stuck.push(...(await store.listGrants({ statuses: ['active'], sessionBound: true })));
    let n = 0;
    await Promise.all(
      stuck.map(async (g) => {
        if (inFlight.has(g.id)) return;
        const claimed = await store.claimGrant(g.id, brokerId, now, now + lease, !opts.onlyAbandoned);
        if (!claimed) return;
        // A revocation cut short is finished now rather than after its lease.
        const reason: RevokeReason | null =
          claimed.status === 'active' ? 'session-lost' : claimed.status === 'provisioning' ? 'provisioning-interrupted' : null;
        const cur = reason ? await markRevoking(g.id, reason, 'stint', claimed) : claimed;
        if (holds(cur)) {
          await performRevoke(cur);
          n++;
        }
      }),
    );
    return n;
  }

  /**
   * A gateway's heartbeat for the session-bound grants of its live
   * connections: moves their leases to now + leaseMs. A grant whose lease
   * lapses is revoked by the expiry loop (`session-lost`).
   */
  async function renewSessionLeases(grantIds: readonly string[], leaseMs: number): Promise<number> {
    if (grantIds.length === 0) return 0;
    return store.renewSessionLeases(grantIds, clock.now() + leaseMs);
  }

  /** Keeps this broker's claims on the grants it is working on alive (every lease/3, app.ts). */
  async function renewClaims(): Promise<number> {
    if (inFlight.size === 0) return 0;
    return store.renewClaims([...inFlight], brokerId, clock.now() + lease);
  }

  return { processDue, recoverInterrupted, renewSessionLeases, renewClaims };
}
