// The outbox notifier and delivery worker over the in-memory store, with
// real channels, for channel tests: emit() commits a notification as a
// service would; settle() runs the worker until nothing is left pending.

import type { Catalog } from '../../core/types.js';
import type { Notification } from '../../core/notify/notification.js';
import { nullTelemetry, systemClock, type Logger, type Telemetry } from '../../core/ports.js';
import { createMemoryStore } from '../../store/memory/memory-store.js';
import type { Channel } from '../channel.js';
import { createDeliveryWorker, type DeliverySettings } from '../delivery-worker.js';
import { createOutboxNotifier } from '../outbox-notifier.js';

export const emptyCatalog: Catalog = { targets: new Map(), profiles: new Map(), policies: [], users: new Map(), roles: {} };

export function outboxHarness(opts: { channels: Channel[]; log: Logger; catalog?: Catalog; settings?: Partial<DeliverySettings>; telemetry?: Telemetry }) {
  const store = createMemoryStore();
  const settings: DeliverySettings = { retryInitialMs: 5, retryMaxMs: 20, giveUpAfterMs: 60_000, leaseMs: 30_000, ...opts.settings };
  const delivery = createDeliveryWorker({
    store,
    channels: opts.channels,
    brokerId: 'test-broker',
    clock: systemClock,
    log: opts.log,
    telemetry: opts.telemetry ?? nullTelemetry,
    settings,
  });
  const notifier = createOutboxNotifier({ channels: opts.channels, catalog: () => opts.catalog ?? emptyCatalog, log: opts.log, now: Date.now, wake: () => {} });
  return {
    store,
    delivery,
    async emit(n: Notification) {
      await store.transaction((tx) => notifier.record(tx, n));
      notifier.committed(n);
    },
    /** Runs the worker until no row is pending (retries wait their backoff); bounded only against a hang. */
    async settle() {
      const deadline = Date.now() + 60_000;
      for (;;) {
        await delivery.drain();
        if ((await store.countNotifications()).pending === 0) return;
        if (Date.now() > deadline) throw new Error('outbox still pending after 60 s');
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}
