// Prometheus metrics: counters and histograms reported by core through the
// Telemetry port, plus gauges read from the store at scrape time.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreTx, Telemetry, TelemetryCounter, TelemetryHistogram, ZspSnapshotStore } from './core/ports.js';
import { grantStatuses, type GrantStatus } from './core/types.js';

const counterHelp: Record<TelemetryCounter, [string, string[]]> = {
  requests_created: ['Access requests created', ['profile', 'approval']],
  requests_decided: ['Access request decisions', ['decision']],
  grants_activated: ['Grants that became active', ['target', 'mode']],
  grants_revoked: ['Grants revoked with the target confirming', ['target', 'reason']],
  revoke_failures: ['Failed revocation attempts (each is retried)', ['target']],
  provision_failures: ['Failed provisionings (rolled back)', ['target']],
  break_glass: ['Break-glass activations: access without approval (each also logs an ALERT and sends grant.break-glass)', ['profile']],
  notifications_delivered: ['Notifications delivered from the outbox, by channel', ['channel']],
  notifications_failed: ['Failed notification delivery attempts, by channel (retried until given up)', ['channel']],
  auth_failures: [
    'Failed API authentication attempts (reason: missing, malformed, invalid, session-ended; throttled: refused while the source is throttled)',
    ['reason'],
  ],
};
const histogramHelp: Record<TelemetryHistogram, [string, string[]]> = {
  provision_seconds: ['Time to create access on the target', ['target', 'mode']],
  revoke_seconds: ['Time to remove access on the target', ['target']],
  expiry_lag_seconds: ["Delay between a grant's expiry and its confirmed revocation", ['target']],
  target_operation_seconds: [
    'Duration of each call to a target through its connector (outcome: ok, retryable, failed)',
    ['kind', 'target', 'operation', 'outcome'],
  ],
  notification_seconds: ['Delay between a change and its notification being accepted by the channel', ['channel']],
};
const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** How long one count of grants by status serves scrapes: /metrics needs no token, and the count reads every grant. */
export const grantCountTtlMs = 5_000;

export function createMetrics(deps: {
  store: Pick<StoreTx, 'countGrantsByStatus' | 'countNotifications'> & Partial<Pick<ZspSnapshotStore, 'latestZspSnapshots'>>;
  now?: () => number;
  /** The config digests of the live brokers sharing the store (broker-registry.ts), one per broker. */
  brokerDigests?: () => Promise<string[]>;
}) {
  const now = deps.now ?? Date.now;
  let counted: { at: number; counts: Promise<Partial<Record<GrantStatus, number>>> } | null = null;
  /** Scrapes at once share one count, and one count serves for grantCountTtlMs; a failed count is not kept. */
  const grantCounts = () => {
    if (!counted || now() - counted.at >= grantCountTtlMs) {
      const mine = { at: now(), counts: deps.store.countGrantsByStatus() };
      counted = mine;
      mine.counts.catch(() => {
        if (counted === mine) counted = null;
      });
    }
    return counted.counts;
  };
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'stint_process_' });
  // prom-client adds a gauge `…_total` beside each per-type gauge of active
  // handles, requests and resources. `_total` is for counters: promtool check
  // metrics refuses those names, and each is only the sum of its per-type
  // gauge (sum without (type) (stint_process_nodejs_active_handles)), kept.
  for (const kind of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`stint_process_nodejs_active_${kind}_total`);
  const counters = new Map<TelemetryCounter, Counter>();
  for (const [name, [help, labelNames]] of Object.entries(counterHelp) as [TelemetryCounter, [string, string[]]][]) {
    counters.set(name, new Counter({ name: `stint_${name}_total`, help, labelNames, registers: [registry] }));
  }
  const histograms = new Map<TelemetryHistogram, Histogram>();
  for (const [name, [help, labelNames]] of Object.entries(histogramHelp) as [TelemetryHistogram, [string, string[]]][]) {
    histograms.set(name, new Histogram({ name: `stint_${name}`, help, labelNames, buckets, registers: [registry] }));
  }
  new Gauge({
    name: 'stint_grants',
    help: 'Grants by status (revoke-failing above zero needs attention)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await grantCounts();
      for (const s of grantStatuses) this.set({ status: s }, counts[s] ?? 0);
    },
  });
  const latestZsp = deps.store.latestZspSnapshots?.bind(deps.store);
  if (latestZsp) {
    // The newest stored score per target, so every broker sharing a store exports the same value.
    new Gauge({
      name: 'stint_zsp_score',
      help: 'Zero-standing-privilege score per target (0..1): the share of holders of profile permissions that hold them only through live grants, as the last reconcile measured it',
      labelNames: ['target'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of await latestZsp()) this.set({ target: s.target }, s.score);
      },
    });
  }
  if (deps.brokerDigests) {
    const digests = deps.brokerDigests;
    new Gauge({
      name: 'stint_brokers',
      help: 'Brokers sharing the store whose heartbeat is recent',
      registers: [registry],
      async collect() {
        this.set((await digests()).length);
      },
    });
    new Gauge({
      name: 'stint_config_digest_mismatch',
      help: 'Brokers sharing the store run different config files (1): roll the config out to all of them',
      registers: [registry],
      async collect() {
        this.set(new Set(await digests()).size > 1 ? 1 : 0);
      },
    });
  }
  new Gauge({
    name: 'stint_notifications',
    help: 'Outbox rows not delivered: pending (retrying: failed at least once) and failed (given up; above zero needs attention)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const c = await deps.store.countNotifications();
      this.set({ state: 'pending' }, c.pending);
      this.set({ state: 'retrying' }, c.retrying);
      this.set({ state: 'failed' }, c.failed);
    },
  });
  const telemetry: Telemetry = {
    count: (name, labels, by = 1) => counters.get(name)?.inc(labels, by),
    observe: (name, labels, seconds) => histograms.get(name)?.observe(labels, seconds),
  };
  return { registry, telemetry, contentType: registry.contentType, render: () => registry.metrics() };
}
