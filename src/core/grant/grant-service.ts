// Grants: delivering access on the target and taking it away again.
//
// The store is written before the target is touched: a grant is inserted as
// `provisioning` (by the request service, in the approving transaction), the
// target work happens, then the grant becomes `active` and its clock starts.
// Revocation marks `revoking` first, then removes on the target, and is only
// marked `revoked` once the target confirmed. Failures are retried forever
// with capped exponential backoff and jitter (`revoke-failing`).
//
// This module only wires the parts, one per job: provisioning.ts,
// revocation.ts, extension.ts, credentials.ts, and the expiry and recovery
// sweeps in ../expiry/grant-sweeps.ts. They share grant-records.ts (grants in
// flight, secrets) and grant-types.ts.

import { KeyedMutex } from '../keyed-mutex.js';
import type { Clock, ConnectorRegistry, Logger, Notifier, Sealer, Store, Telemetry } from '../ports.js';
import type { Catalog } from '../types.js';
import { noFaults, type Faults } from '../faults.js';
import { createGrantSweeps } from '../expiry/grant-sweeps.js';
import { createCredentials } from './credentials.js';
import { createExtension } from './extension.js';
import { createGrantRecords } from './grant-records.js';
import type { GrantSettings } from './grant-types.js';
import { createProvisioning } from './provisioning.js';
import { createRevocation } from './revocation.js';

export { defaultGrantSettings, type Credentials, type GrantSettings, type RevokeReason } from './grant-types.js';

/** The part of the store the grant services use. */
export type GrantStore = Pick<
  Store,
  | 'transaction'
  | 'getGrant'
  | 'listGrants'
  | 'listDueGrants'
  | 'renewSessionLeases'
  | 'appendAudit'
  | 'listSshKeys'
  | 'claimDueGrants'
  | 'claimGrant'
  | 'renewClaims'
>;

export interface GrantServiceDeps {
  store: GrantStore;
  catalog: () => Catalog;
  connectors: ConnectorRegistry;
  sealer: Sealer;
  clock: Clock;
  notifier: Notifier;
  log: Logger;
  telemetry: Telemetry;
  settings: GrantSettings;
  /** Called with a moment at which work becomes due (an activated grant's expiry, a retry), which may be earlier than what the worker planned for. */
  onScheduleChange?: (dueAt: number) => void;
  /** Crash points for tests (core/faults.ts); no-ops in production. */
  faults?: Faults;
  /** Per target+account lock, shared with reconcile so both see one consistent picture of own accounts. */
  accountLocks?: KeyedMutex;
  /** This broker's id (brokers sharing a store claim work under it); one broker alone may leave it out. */
  brokerId?: string;
}

export function createGrantService(deps: GrantServiceDeps) {
  const { store, catalog, connectors, clock, notifier, log, telemetry, settings, onScheduleChange } = deps;
  const faults = deps.faults ?? noFaults;
  const accountLocks = deps.accountLocks ?? new KeyedMutex();
  const records = createGrantRecords({ store, sealer: deps.sealer });
  const brokerId = deps.brokerId ?? 'stint';
  const revocation = createRevocation({
    store,
    connectors,
    clock,
    notifier,
    log,
    telemetry,
    settings,
    faults,
    accountLocks,
    records,
    onScheduleChange,
    brokerId,
  });
  const provisioning = createProvisioning({
    store,
    catalog,
    connectors,
    clock,
    notifier,
    log,
    telemetry,
    settings,
    faults,
    accountLocks,
    records,
    revocation,
    onScheduleChange,
    brokerId,
  });
  const extension = createExtension({ store, connectors, clock, log, records });
  const credentials = createCredentials({ store, catalog, connectors, clock, records });
  const sweeps = createGrantSweeps({ store, clock, log, settings, records, revocation, brokerId });

  return {
    newGrant: provisioning.newGrant,
    provision: provisioning.provision,
    revoke: revocation.revoke,
    extend: extension.extend,
    credentials: credentials.credentials,
    upstreamCredentials: credentials.upstreamCredentials,
    processDue: sweeps.processDue,
    recoverInterrupted: sweeps.recoverInterrupted,
    renewSessionLeases: sweeps.renewSessionLeases,
    renewClaims: sweeps.renewClaims,
    brokerId,
    get: records.get,
  };
}

export type GrantService = ReturnType<typeof createGrantService>;
