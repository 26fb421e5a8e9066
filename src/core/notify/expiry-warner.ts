// Tells a grant's holder that it ends soon (notifications.warnBefore), once
// per grant end: each round lists the active grants ending within the window
// whose end nobody was warned of, and for each one claims the warning and
// writes the notification in one transaction (store recordExpiryWarning), so
// of several brokers sharing the store exactly one sends it, and a crash
// before the commit leaves it to the next round. An extended grant has a new
// end and is warned of again. A grant shorter than the window is not warned
// (the "active" notification already said when it ends): its end is claimed
// without a notification so it is not looked at again.

import { formatDuration } from '../duration.js';
import { createPeriodicWorker, type PeriodicWorker } from '../periodic.js';
import type { Clock, Logger, Notifier, Store } from '../ports.js';
import type { GrantRecord } from '../types.js';
import { grantFacts, type Notification } from './notification.js';

export function expiringNote(g: GrantRecord, now: number, expiresAt: number): Notification {
  return {
    kind: 'grant.expiring',
    at: now,
    ...grantFacts(g),
    duration: formatDuration(g.durationMs),
    expiresAt,
    message: `${g.user}'s ${g.profile} on ${g.target} ends at ${new Date(expiresAt).toISOString()}`,
  };
}

export interface ExpiryWarner extends PeriodicWorker {
  /** One pass; how many holders it warned. */
  runOnce(): Promise<number>;
}

/** How often to look: a tenth of the window, between 0.5 s and 5 s. */
export function warnIntervalMs(warnBeforeMs: number): number {
  return Math.min(5000, Math.max(500, Math.floor(warnBeforeMs / 10)));
}

export function createExpiryWarner(deps: {
  store: Pick<Store, 'listGrantsToWarn' | 'transaction'>;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  warnBeforeMs: number;
  batch?: number;
  intervalMs?: number;
}): ExpiryWarner {
  const batch = deps.batch ?? 200;

  async function warn(g: GrantRecord, now: number): Promise<boolean> {
    const expiresAt = g.expiresAt!;
    const tell = g.activatedAt === null || expiresAt - deps.warnBeforeMs >= g.activatedAt;
    const note = expiringNote(g, now, expiresAt);
    const sent = await deps.store.transaction(async (tx) => {
      // Read again in the claim's transaction: a grant revoked or extended since the list is not warned of this end.
      const cur = await tx.getGrant(g.id);
      if (!cur || cur.status !== 'active' || cur.expiresAt !== expiresAt) return false;
      if (!(await tx.recordExpiryWarning(g.id, expiresAt, now))) return false;
      if (tell) await deps.notifier.record(tx, note);
      return tell;
    });
    if (sent) deps.notifier.committed(note);
    return sent;
  }

  async function runOnce(): Promise<number> {
    let warned = 0;
    // A full batch means more may be due; bounded so one run cannot spin.
    for (let round = 0; round < 10; round++) {
      const now = deps.clock.now();
      const due = await deps.store.listGrantsToWarn(now, now + deps.warnBeforeMs, batch);
      for (const g of due) if (await warn(g, now)) warned++;
      if (due.length < batch) break;
    }
    return warned;
  }

  const periodic = createPeriodicWorker({
    name: 'expiry warnings',
    run: runOnce,
    log: deps.log,
    intervalMs: deps.intervalMs ?? warnIntervalMs(deps.warnBeforeMs),
  });
  return { ...periodic, runOnce };
}
