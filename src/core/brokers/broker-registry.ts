// Brokers sharing a store know each other: each writes a heartbeat row
// (id, address, version, config digest) every few seconds; a broker whose
// heartbeat is older than `deadAfterMs` drops out of the list and its row is
// pruned by the next heartbeat of any broker. The work each holds is read
// from the claims on grants (Store.listBrokers).

import type { Clock, Store } from '../ports.js';
import type { BrokerStatus } from '../types.js';

export const brokerHeartbeatMs = 5_000;
/** Six missed heartbeats: the broker is gone (documented in operations.md). */
export const brokerDeadAfterMs = 30_000;

export interface BrokerRegistryDeps {
  store: Pick<Store, 'putBroker' | 'listBrokers' | 'deleteBrokers'>;
  clock: Clock;
  id: string;
  version: string;
  /** Where this broker's API listens; known once it listens. */
  address: () => string;
  /** sha256 of the config file in force (changes on a reload). */
  configDigest: () => string;
  startedAt: number;
  deadAfterMs?: number;
}

export type BrokerRegistry = ReturnType<typeof createBrokerRegistry>;

export function createBrokerRegistry(deps: BrokerRegistryDeps) {
  const { store, clock } = deps;
  const deadAfterMs = deps.deadAfterMs ?? brokerDeadAfterMs;

  async function heartbeat(): Promise<void> {
    const now = clock.now();
    await store.putBroker({
      id: deps.id,
      address: deps.address(),
      version: deps.version,
      configDigest: deps.configDigest(),
      startedAt: deps.startedAt,
      heartbeatAt: now,
    });
    await store.deleteBrokers(now - deadAfterMs);
  }

  /** The live brokers, oldest first, with the claims each holds. */
  async function list(): Promise<BrokerStatus[]> {
    const now = clock.now();
    return store.listBrokers(now - deadAfterMs, now);
  }

  /** How many different configs the live brokers run (1 when they agree). */
  async function configDigests(): Promise<number> {
    return new Set((await list()).map((b) => b.configDigest)).size;
  }

  /** A broker shutting down takes its row with it. */
  async function leave(): Promise<void> {
    await store.deleteBrokers(Number.MIN_SAFE_INTEGER, deps.id);
  }

  return { id: deps.id, heartbeat, list, configDigests, leave };
}
