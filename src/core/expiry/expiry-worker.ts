// Drives time-based work: revoking expired grants, retrying failing
// revocations, expiring unapproved requests. `expires_at` in the store is the
// truth; the timer only decides when to look. It sleeps until the next due
// moment (at most `maxSleepMs`, so changes made by other brokers are seen),
// and `wake()` makes it look at once.

import type { Clock, Logger, StoreTx } from '../ports.js';
import { safeErrorText } from '../scrub.js';
import type { GrantService } from '../grant/grant-service.js';
import type { RequestService } from '../request/request-service.js';

export interface ExpiryWorkerDeps {
  store: Pick<StoreTx, 'nextDueAt'>;
  grants: Pick<GrantService, 'processDue'>;
  requests: Pick<RequestService, 'expireStale'>;
  clock: Clock;
  log: Logger;
  maxSleepMs?: number;
  batch?: number;
}

export interface ExpiryWorker {
  start(): void;
  stop(): Promise<void>;
  /** Look now. */
  wake(): void;
  /**
   * Something becomes due at `at` (a grant just activated, a retry was
   * scheduled): the timer is brought forward if it would fire later. Cheaper
   * than wake(), which runs a whole pass.
   */
  dueBy(at: number): void;
  /** Runs passes until nothing is due now (tests and `stint` one-shot commands). */
  runOnce(): Promise<number>;
}

export function createExpiryWorker(deps: ExpiryWorkerDeps): ExpiryWorker {
  const maxSleepMs = deps.maxSleepMs ?? 1000;
  const batch = deps.batch ?? 500;
  const idlePollMs = 200;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let stopped = true;
  let again = false;
  let active: Promise<void> | null = null;
  /** When the timer fires (clock time), while one is set. */
  let plannedAt = Number.POSITIVE_INFINITY;
  /** Earliest due time announced by dueBy and not yet looked at; covers a hint racing schedule()'s read. */
  let hintAt = Number.POSITIVE_INFINITY;
  /** The last pass found nothing it could take: what is due is claimed by other brokers (or in hand here). */
  let idle = false;

  function setTimer(delay: number): void {
    if (timer) clearTimeout(timer);
    plannedAt = deps.clock.now() + delay;
    timer = setTimeout(() => {
      timer = null;
      plannedAt = Number.POSITIVE_INFINITY;
      loop();
    }, delay);
  }

  async function pass(): Promise<number> {
    if (hintAt <= deps.clock.now()) hintAt = Number.POSITIVE_INFINITY;
    let total = 0;
    for (;;) {
      const n = await deps.grants.processDue(batch);
      total += n;
      if (n < batch) break;
    }
    idle = total === 0;
    total += await deps.requests.expireStale(batch);
    return total;
  }

  function loop(): void {
    if (running) {
      again = true;
      return;
    }
    running = true;
    active = body().finally(() => {
      active = null;
    });
  }

  async function body(): Promise<void> {
    try {
      do {
        again = false;
        await pass();
      } while (again && !stopped);
    } catch (err) {
      deps.log.error({ error: safeErrorText(err) }, 'expiry pass failed; will retry');
    } finally {
      running = false;
    }
    if (!stopped) await schedule();
  }

  async function schedule(): Promise<void> {
    let delay = maxSleepMs;
    try {
      const next = await deps.store.nextDueAt();
      if (next !== null) delay = Math.min(maxSleepMs, Math.max(0, next - deps.clock.now()));
      // Due work this pass could not take is another broker's (its claim ends in a revocation or lapses):
      // look again shortly rather than at once, so brokers do not spin on each other's work.
      if (idle && next !== null && next <= deps.clock.now()) delay = Math.max(delay, Math.min(maxSleepMs, idlePollMs));
    } catch (err) {
      deps.log.error({ error: safeErrorText(err) }, 'could not read the next due time');
    }
    if (stopped) return;
    // A wake() or dueBy() while the read was under way may have set a timer already; the earliest wins.
    delay = Math.min(delay, Math.max(0, hintAt - deps.clock.now()));
    if (timer && plannedAt <= deps.clock.now() + delay) return;
    setTimer(delay);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await active;
    },
    wake() {
      if (stopped) return;
      if (timer) {
        clearTimeout(timer);
        timer = null;
        plannedAt = Number.POSITIVE_INFINITY;
      }
      loop();
    },
    dueBy(at) {
      if (stopped) return;
      hintAt = Math.min(hintAt, at);
      // While a pass runs, its schedule() at the end takes the hint into account.
      if (running) return;
      if (timer && plannedAt <= at) return;
      setTimer(Math.min(maxSleepMs, Math.max(0, at - deps.clock.now())));
    },
    runOnce: pass,
  };
}
