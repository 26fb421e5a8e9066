// Sends the outbox. Each round claims due rows with a lease in this broker's
// name (store claimNotifications: brokers sharing a PostgreSQL store get
// different rows), sends each through its channel and settles it while the
// lease is still ours: delivered; or retried with capped exponential backoff;
// or failed for good when the receiver refused it permanently or it kept
// failing for giveUpAfter. A broker that dies mid-send leaves its rows leased
// until the lease runs out; then any broker takes them. So each row is sent
// once, except when a broker dies after the receiver accepted and before the
// settle was written (it is sent again: at least once, never lost).
//
// Visible when failing: stint_notifications_failed_total{channel}, the
// stint_notifications{state} gauge, a warn line at a row's first failure and
// an error line when it is given up, `stint notifications --failed` and
// GET /v1/notifications?status=failed.

import { createPeriodicWorker } from '../core/periodic.js';
import type { Clock, Logger, Store, Telemetry } from '../core/ports.js';
import type { OutboxOutcome, OutboxRecord } from '../core/notify/notification.js';
import type { Faults } from '../core/faults.js';
import { safeErrorText } from '../core/scrub.js';
import { DeliveryError, type Channel } from './channel.js';

export interface DeliverySettings {
  retryInitialMs: number;
  retryMaxMs: number;
  giveUpAfterMs: number;
  leaseMs: number;
}

/** Capped exponential backoff with jitter (0.5–1×), never past the cap. */
export function retryDelayMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.max(1, Math.round(base * (0.5 + random() / 2)));
}

export interface DeliveryWorker {
  start(): void;
  stop(): Promise<void>;
  /** Sends what is due now (after a commit that wrote rows). */
  wake(): void;
  /** One full pass until nothing is due (tests, shutdown). */
  drain(): Promise<void>;
}

export function createDeliveryWorker(deps: {
  store: Pick<Store, 'claimNotifications' | 'settleNotification'>;
  channels: readonly Channel[];
  brokerId: string;
  clock: Clock;
  log: Logger;
  telemetry: Telemetry;
  settings: DeliverySettings;
  faults?: Faults;
  /** Rows claimed per round. */
  batch?: number;
  intervalMs?: number;
}): DeliveryWorker {
  const { store, clock, log, telemetry, settings } = deps;
  const byName = new Map(deps.channels.map((c) => [c.name, c]));
  const batch = deps.batch ?? 50;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  async function deliver(row: OutboxRecord): Promise<void> {
    const channel = byName.get(row.channel);
    const attempts = row.attempts + 1;
    let outcome: OutboxOutcome;
    try {
      if (!channel) throw new DeliveryError(`channel ${row.channel} is no longer configured`, true);
      deps.faults?.hit('notify.before-send');
      await channel.send(row);
      const now = clock.now();
      outcome = { status: 'delivered', attempts, nextAttemptAt: row.nextAttemptAt, lastError: null, deliveredAt: now };
      telemetry.count('notifications_delivered', { channel: row.channel });
      telemetry.observe('notification_seconds', { channel: row.channel }, Math.max(0, now - row.createdAt) / 1000);
    } catch (err) {
      const error = err instanceof DeliveryError ? err.message : safeErrorText(err);
      const now = clock.now();
      const permanent = err instanceof DeliveryError && err.permanent;
      const giveUp = permanent || now - row.createdAt >= settings.giveUpAfterMs;
      outcome = giveUp
        ? { status: 'failed', attempts, nextAttemptAt: now, lastError: error, deliveredAt: null }
        : {
            status: 'pending',
            attempts,
            nextAttemptAt: now + retryDelayMs(attempts, settings.retryInitialMs, settings.retryMaxMs),
            lastError: error,
            deliveredAt: null,
          };
      telemetry.count('notifications_failed', { channel: row.channel });
      const entry = { notificationId: row.id, notification: row.kind, channel: row.channel, requestId: row.notification.requestId, attempts, error };
      if (giveUp) log.error(entry, `notification delivery failed; given up${permanent ? ' (refused)' : ` after ${attempts} attempts`}`);
      else if (attempts === 1) log.warn({ ...entry, nextAttemptAt: outcome.nextAttemptAt }, 'notification delivery failing; will retry');
      else log.debug({ ...entry, nextAttemptAt: outcome.nextAttemptAt }, 'notification delivery retry failed');
    }
    if (!(await store.settleNotification(row.id, deps.brokerId, outcome))) {
      log.warn({ notificationId: row.id, channel: row.channel }, 'notification lease ran out before the outcome was recorded');
    }
  }

  async function round(): Promise<number> {
    const now = clock.now();
    const rows = await store.claimNotifications(deps.brokerId, now, now + settings.leaseMs, batch);
    await Promise.all(rows.map((r) => deliver(r)));
    return rows.length;
  }

  async function passes(): Promise<void> {
    do {
      again = false;
      while (!stopped && (await round()) === batch);
    } while (again && !stopped);
  }

  function drain(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = passes().finally(() => (running = null));
    return running;
  }

  const periodic = createPeriodicWorker({ name: 'notification delivery', run: drain, log, intervalMs: deps.intervalMs ?? 1000 });

  return {
    start() {
      stopped = false;
      periodic.start();
    },
    async stop() {
      stopped = true;
      await periodic.stop();
      await running;
      await Promise.all(deps.channels.map((c) => c.close()));
    },
    wake() {
      if (stopped) return;
      drain().catch((err: unknown) => log.error({ error: safeErrorText(err) }, 'notification delivery failed; will retry'));
    },
    drain,
  };
}
