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
  wake(): void;
  /** Runs passes until nothing is due now (tests and `stint` one-shot commands). */
  runOnce(): Promise<number>;
}

export function createExpiryWorker(deps: ExpiryWorkerDeps): ExpiryWorker {
  const maxSleepMs = deps.maxSleepMs ?? 1000;
  const batch = deps.batch ?? 500;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let stopped = true;
  let again = false;
  let active: Promise<void> | null = null;

  async function pass(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await deps.grants.processDue(batch);
      total += n;
      if (n < batch) break;
    }
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
    } catch (err) {
      deps.log.error({ error: safeErrorText(err) }, 'could not read the next due time');
    }
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      loop();
    }, delay);
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
      }
      loop();
    },
    runOnce: pass,
  };
}
