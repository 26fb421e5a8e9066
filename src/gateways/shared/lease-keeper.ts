// The heartbeat of session-bound grants: while a gateway holds a connection
// it keeps that grant's session lease ahead of the clock, all of its grants in
// one store write per beat. If the gateway (or the whole broker) dies, the
// beats stop, the leases lapse, and the expiry loop revokes the grants as
// `session-lost` — the account does not outlive its session by more than
// one lease.

import type { GrantService } from '../../core/grant/grant-service.js';
import type { Logger } from '../../core/ports.js';
import { safeErrorText } from '../../core/scrub.js';

/** Default lease: long enough to ride out a slow store, short enough that a dead gateway's accounts go soon. */
export const defaultSessionLeaseMs = 60_000;

export interface LeaseKeeper {
  hold(grantId: string): void;
  release(grantId: string): void;
  /** Renews every held lease now (also what the timer does). */
  beat(): Promise<void>;
  stop(): void;
}

export function createLeaseKeeper(deps: { grants: Pick<GrantService, 'renewSessionLeases'>; log: Logger; leaseMs: number; gateway: string }): LeaseKeeper {
  const held = new Set<string>();
  // Three beats per lease: one failed write never lets a live session's lease lapse.
  const everyMs = Math.max(50, Math.floor(deps.leaseMs / 3));
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  async function beat(): Promise<void> {
    if (held.size === 0) return;
    // A beat already on its way covers the grants it was given; one that came in since waits for the next.
    running ??= deps.grants
      .renewSessionLeases([...held], deps.leaseMs)
      .then(
        () => undefined,
        (err: unknown) => {
          deps.log.error(
            { gateway: deps.gateway, grants: held.size, error: safeErrorText(err) },
            'could not renew session leases; sessions end when they lapse',
          );
        },
      )
      .finally(() => {
        running = null;
      });
    return running;
  }

  return {
    hold(grantId) {
      held.add(grantId);
      if (!timer) {
        timer = setInterval(() => void beat(), everyMs);
        timer.unref();
      }
      // Renewed now, not a beat later: the lease was counted from activation, and the session took a moment to open.
      void beat();
    },
    release(grantId) {
      held.delete(grantId);
      if (held.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    },
    beat,
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      held.clear();
    },
  };
}
