// The grant sweeps the expiry worker and startup run: revoking grants past
// their expiry or session lease, retrying failing revocations, rolling back
// provisioning a dead broker abandoned, finishing what a restart cut short,
// and the gateways' session-lease heartbeat.

import type { Clock, Logger, Store } from '../ports.js';
import { safeErrorText } from '../scrub.js';
import type { GrantRecords } from '../grant/grant-records.js';
import type { GrantSettings, RevokeReason } from '../grant/grant-types.js';
import type { Revocation } from '../grant/revocation.js';

export interface GrantSweepsDeps {
  store: Pick<Store, 'listDueGrants' | 'listGrants' | 'renewSessionLeases'>;
  clock: Clock;
  log: Logger;
  settings: Pick<GrantSettings, 'provisionTimeoutMs'>;
  records: Pick<GrantRecords, 'inFlight'>;
  revocation: Pick<Revocation, 'markRevoking' | 'performRevoke'>;
}

export function createGrantSweeps(deps: GrantSweepsDeps) {
  const { store, clock, log, settings } = deps;
  const { inFlight } = deps.records;
  const { markRevoking, performRevoke } = deps.revocation;

  /**
   * One pass of expiry and retry work: revokes active grants past expiry and
   * retries revoking/revoke-failing ones that are due. Returns how many it handled.
   */
  async function processDue(limit = 500): Promise<number> {
    const now = clock.now();
    const due = await store.listDueGrants(now, limit);
    // Provisioning abandoned by a broker that died (another one, or this one before a restart).
    const abandoned = (await store.listGrants({ statuses: ['provisioning'], limit })).filter(
      (g) => g.createdAt + settings.provisionTimeoutMs <= now && !inFlight.has(g.id),
    );
    for (const g of abandoned) {
      const cur = await markRevoking(g.id, 'provisioning-interrupted', 'stint');
      if (cur.status === 'revoking') due.push(cur);
    }
    const work = due.filter((g) => !inFlight.has(g.id));
    await Promise.all(
      work.map(async (g) => {
        try {
          const reason: RevokeReason = g.expiresAt !== null && g.expiresAt <= now ? 'expired' : 'session-lost';
          const cur = g.status === 'active' ? await markRevoking(g.id, reason, 'stint', g) : g;
          if (cur.status === 'revoking' || cur.status === 'revoke-failing') await performRevoke(cur);
        } catch (err) {
          log.error({ grantId: g.id, error: safeErrorText(err) }, 'expiry work failed; will retry');
        }
      }),
    );
    return work.length;
  }

  /**
   * After a restart: a grant left in `provisioning` was interrupted between
   * intent and activation. It is rolled back (removed on the target, which is
   * idempotent), never left half-made.
   */
  async function recoverInterrupted(opts: { onlyAbandoned: boolean }): Promise<number> {
    // With a store shared by several brokers, another one may be working on a grant right now:
    // only take over what is older than the provisioning timeout or past its revoke lease.
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
        if (g.status === 'active') {
          const cur = await markRevoking(g.id, 'session-lost', 'stint');
          if (cur.status === 'revoking') {
            await performRevoke(cur);
            n++;
          }
          return;
        }
        // A revocation cut short is finished now rather than after its lease.
        const cur = g.status === 'provisioning' ? await markRevoking(g.id, 'provisioning-interrupted', 'stint') : g;
        if (cur.status === 'revoking') {
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

  return { processDue, recoverInterrupted, renewSessionLeases };
}
