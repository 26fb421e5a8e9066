// Live connectors for the configured targets, kept in step with the config.
// Each target's definition (never its secret) is remembered in the store, so
// a target removed from the config can still have its live grants revoked.

import type { Logger as PinoLogger } from 'pino';
import { createConnector } from './connectors/kit/create.js';
import type { OperationTiming } from './connectors/kit/operation.js';
import { connectorModules } from './connectors/registry.js';
import type { Clock, Connector, ConnectorRegistry, Sealer, Store, Telemetry } from './core/ports.js';
import { safeErrorText } from './core/scrub.js';
import type { Catalog, TargetDef, TargetKind } from './core/types.js';
import { readAdminSecret } from './config/secrets.js';

interface Snapshot {
  kind: TargetKind;
  settings: Record<string, unknown>;
  adminUser: string;
}

const snapshotKey = (name: string) => `target-def:${name}`;

/** Every target call's duration and outcome, from the connector kit's operation wrapper. */
const observeWith =
  (telemetry: Telemetry) =>
  (t: OperationTiming): void =>
    telemetry.observe('target_operation_seconds', { kind: t.kind, target: t.target, operation: t.operation, outcome: t.outcome }, t.ms / 1000);

export function createTargetConnectors(deps: {
  store: Store;
  vault: Sealer;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  log: PinoLogger;
  concurrency?: number;
  telemetry?: Telemetry;
}) {
  const { store, vault, log } = deps;
  const live = new Map<string, { connector: Connector; fingerprint: string }>();

  /** The admin secret from the config's source, sealed into the store; the sealed copy if the source is unusable. */
  async function adminSecretFor(target: TargetDef): Promise<string> {
    const context = `target:${target.name}`;
    try {
      const secret = await readAdminSecret(target, deps.env);
      await store.putTargetCredential(target.name, vault.seal(secret, context), deps.clock.now());
      return secret;
    } catch (err) {
      const sealed = await store.getTargetCredential(target.name);
      if (sealed) {
        log.warn({ target: target.name, problem: safeErrorText(err) }, 'admin secret source unusable; using the copy sealed in the store');
        return vault.unseal(sealed, context);
      }
      throw new Error(`target ${target.name}: ${safeErrorText(err)}`);
    }
  }

  async function open(name: string, snap: Snapshot, secret: string): Promise<void> {
    const fingerprint = JSON.stringify(snap);
    const cur = live.get(name);
    if (cur?.fingerprint === fingerprint) return;
    const connector = createConnector(connectorModules[snap.kind], {
      target: name,
      settings: snap.settings,
      adminUser: snap.adminUser,
      adminSecret: secret,
      concurrency: deps.concurrency,
      warn: (message) => log.warn({ target: name }, message),
      ...(deps.telemetry ? { observe: observeWith(deps.telemetry) } : {}),
    });
    live.set(name, { connector, fingerprint });
    // A changed definition replaces the connector; the old one finishes its in-flight work first.
    if (cur) setTimeout(() => void cur.connector.close().catch(() => {}), 30_000).unref();
  }

  /**
   * Brings connectors in line with `catalog`. Targets in `keep` (removed from
   * the config but still holding live grants) stay reachable from their
   * remembered definition until those grants are revoked.
   */
  async function apply(catalog: Catalog, keep: ReadonlySet<string> = new Set()): Promise<void> {
    for (const t of catalog.targets.values()) {
      const snap: Snapshot = { kind: t.kind, settings: t.settings, adminUser: t.adminUser };
      await open(t.name, snap, await adminSecretFor(t));
      await store.setMeta(snapshotKey(t.name), JSON.stringify(snap));
    }
    for (const name of keep) {
      if (catalog.targets.has(name) || live.has(name)) continue;
      const raw = await store.getMeta(snapshotKey(name));
      const sealed = await store.getTargetCredential(name);
      if (!raw || !sealed)
        throw new Error(`target ${name} was removed from the config and Stint has no record of how to reach it; its grants cannot be revoked automatically`);
      await open(name, JSON.parse(raw) as Snapshot, vault.unseal(sealed, `target:${name}`));
    }
  }

  const registry: ConnectorRegistry = {
    get(name) {
      const c = live.get(name);
      if (!c) throw new Error(`target ${name} is not configured`);
      return c.connector;
    },
  };

  async function closeAll(): Promise<void> {
    await Promise.all([...live.values()].map((c) => c.connector.close().catch(() => {})));
    live.clear();
  }

  return { apply, registry, closeAll };
}
