// Extending an active grant: never past its maximum counted from activation,
// the target's expiry (dead man's switch) first, then the store's by
// compare-and-swap; on a lost race the store wins.

import { StintError, TargetError, conflict, invalid } from '../errors.js';
import { formatDuration } from '../duration.js';
import { KeyedMutex } from '../keyed-mutex.js';
import type { Clock, ConnectorRegistry, Logger, Store } from '../ports.js';
import { safeErrorText } from '../scrub.js';
import type { GrantRecord, UserDef } from '../types.js';
import { notYours, type GrantRecords } from './grant-records.js';

export interface ExtensionDeps {
  store: Pick<Store, 'transaction' | 'getGrant'>;
  connectors: ConnectorRegistry;
  clock: Clock;
  log: Logger;
  records: GrantRecords;
}

export function createExtension(deps: ExtensionDeps) {
  const { store, connectors, clock, log, records } = deps;
  const { secretOf } = records;
  // Some kinds act as the account to move its expiry (keystone remakes its application credential).
  const secretFor = (g: GrantRecord) => {
    const secret = secretOf(g);
    return secret === null ? {} : { secret };
  };
  const mustGet = records.get;
  const extendLocks = new KeyedMutex();

  /**
   * Extends an active grant; never past its maximum counted from activation.
   * One extension of a grant at a time in this broker: each starts from the
   * expiry the one before left, so the account's expiry on the target ends
   * where the store's does (extends that overlapped used to set the target
   * in one order and the store in another).
   */
  async function extend(input: { grantId: string; actor: UserDef; byMs: number }): Promise<GrantRecord> {
    if (!Number.isSafeInteger(input.byMs) || input.byMs <= 0) throw invalid('extension must be a positive amount of time');
    const first = await mustGet(input.grantId);
    if (first.user !== input.actor.name && !input.actor.admin) throw notYours(first, input.actor);
    return extendLocks.run(first.id, () => extendNow(input));
  }

  async function extendNow(input: { grantId: string; actor: UserDef; byMs: number }): Promise<GrantRecord> {
    const g = await mustGet(input.grantId);
    if (g.status !== 'active' || g.activatedAt === null || g.expiresAt === null)
      throw conflict(`grant ${g.id} is ${g.status}, not active; only active grants can be extended`);
    // Its length is the gateway's maxSession cap; a longer session is a new connection.
    if (g.sessionLeaseUntil !== null) throw conflict(`grant ${g.id} belongs to one gateway connection and cannot be extended; reconnect for a new one`);
    const limit = g.activatedAt + g.maxDurationMs;
    const newExpiry = g.expiresAt + input.byMs;
    if (newExpiry > limit) {
      const room = Math.max(0, limit - g.expiresAt);
      throw invalid(
        `extending by ${formatDuration(input.byMs)} would go past the maximum of ${formatDuration(g.maxDurationMs)} from activation (${new Date(limit).toISOString()}); ` +
          (room >= 1000 ? `you can extend by at most ${formatDuration(room)}` : 'the grant is already at its maximum'),
      );
    }
    if (g.mode === 'ephemeral-account') {
      try {
        await connectors.get(g.target).extendAccount({ account: g.account, expiresAt: new Date(newExpiry), ...secretFor(g) });
      } catch (err) {
        // Lost a race with expiry or revoke (the account is already gone): say so plainly.
        const cur = await mustGet(g.id);
        if (cur.status !== 'active') throw conflict(`grant ${g.id} is no longer active (it expired or was revoked); it was not extended`);
        const retryable = err instanceof TargetError ? err.retryable : true;
        throw new StintError(retryable ? 'target_unavailable' : 'conflict', `could not extend on target ${g.target}: ${safeErrorText(err, [secretOf(g)])}`);
      }
    }
    const now = clock.now();
    const updated = await store.transaction(async (tx) => {
      const cur = await mustGet(g.id, tx);
      if (cur.status !== 'active' || cur.expiresAt !== g.expiresAt) return null;
      if (!(await tx.casGrant(cur.id, cur.version, { expiresAt: newExpiry }))) return null;
      await tx.appendAudit({
        at: now,
        actor: input.actor.name,
        action: 'grant.extended',
        requestId: cur.requestId,
        grantId: cur.id,
        target: cur.target,
        subjectUser: cur.user,
        details: { by: formatDuration(input.byMs), previousExpiresAt: new Date(g.expiresAt!).toISOString(), expiresAt: new Date(newExpiry).toISOString() },
      });
      return { ...cur, expiresAt: newExpiry, version: cur.version + 1 };
    });
    if (!updated) {
      const cur = await mustGet(g.id);
      // Lost a race with expiry or revoke: the store wins, and the revoke path removes the account.
      if (cur.status !== 'active' || cur.expiresAt === null)
        throw conflict(`grant ${g.id} changed while extending (it expired or was revoked); it was not extended`);
      // Extended meanwhile by another broker sharing the store: the target's expiry follows the store's again.
      if (g.mode === 'ephemeral-account') {
        await connectors
          .get(g.target)
          .extendAccount({ account: g.account, expiresAt: new Date(cur.expiresAt), ...secretFor(g) })
          .catch((err: unknown) =>
            log.warn(
              { grantId: g.id, target: g.target, error: safeErrorText(err, [secretOf(g)]) },
              "could not set the account's expiry on the target back to the grant's",
            ),
          );
      }
      throw conflict(
        `grant ${g.id} changed while extending (it now expires at ${new Date(cur.expiresAt).toISOString()}); this extension was not applied, try again`,
      );
    }
    return updated;
  }

  return { extend };
}
