// Provisioning: the intent a grant starts as (`provisioning`, written by the
// request service in the approving transaction), the target work, and the
// activation that starts the grant's clock. A failure rolls back whatever
// reached the target through the revocation path.

import { ownerKeysFor } from '../keys/grant-keys.js';
import { ownAccountOf } from '../identity/own-account.js';
import { StintError, TargetError, invalid, notFound } from '../errors.js';
import { newGrantId } from '../ids.js';
import type { KeyedMutex } from '../keyed-mutex.js';
import type { Clock, ConnectorRegistry, Logger, Notification, Notifier, Store, Telemetry } from '../ports.js';
import { formatDuration } from '../duration.js';
import { grantFacts } from '../notify/notification.js';
import { safeErrorText } from '../scrub.js';
import type { Catalog, GrantRecord, RequestRecord, UserDef } from '../types.js';
import type { Faults } from '../faults.js';
import type { GrantRecords } from './grant-records.js';
import type { GrantSettings } from './grant-types.js';
import { ephemeralAccountName } from './naming.js';
import type { Revocation } from './revocation.js';
import { createSecretPool } from './secret-pool.js';

export interface ProvisioningDeps {
  store: Pick<Store, 'transaction' | 'getGrant' | 'listSshKeys'>;
  catalog: () => Catalog;
  connectors: ConnectorRegistry;
  clock: Clock;
  notifier: Notifier;
  log: Logger;
  telemetry: Telemetry;
  settings: Pick<GrantSettings, 'revokeLeaseMs' | 'preparedSecrets'>;
  faults: Faults;
  /** Per target+account lock, shared with revocation and reconcile. */
  accountLocks: KeyedMutex;
  records: GrantRecords;
  /** Rolls back a grant whose provisioning failed or was revoked meanwhile. */
  revocation: Pick<Revocation, 'revokeOwned'>;
  onScheduleChange?: (dueAt: number) => void;
  /** This broker's id: it claims the grants it provisions (renewed while it works; see grant-sweeps.ts). */
  brokerId: string;
}

export function createProvisioning(deps: ProvisioningDeps) {
  const { store, connectors, clock, notifier, log, telemetry, settings, faults, accountLocks, records } = deps;
  const { inFlight, secretOf } = records;
  const mustGet = records.get;
  const { revokeOwned } = deps.revocation;
  const { brokerId } = deps;
  // Secrets prepared a little ahead on targets whose connector can use that (secret-pool.ts).
  const secrets = createSecretPool({
    size: settings.preparedSecrets ?? 16,
    prepare(target, secret) {
      const connector = connectors.get(target);
      if (!connector.prepareSecret) return false;
      connector.prepareSecret(secret);
      return true;
    },
  });

  /** Builds the provisioning intent for an approved request; the caller inserts it in its transaction. */
  function newGrant(request: RequestRecord, user: UserDef, now: number, sessionLeaseMs?: number): GrantRecord {
    const profile = deps.catalog().profiles.get(request.profile);
    if (!profile) throw notFound(`profile ${request.profile} no longer exists`);
    const id = newGrantId();
    const ephemeral = request.mode === 'ephemeral-account';
    const targetDef = deps.catalog().targets.get(request.target);
    const account = ephemeral ? ephemeralAccountName(user.name) : targetDef ? ownAccountOf(user, targetDef) : user.accounts[request.target];
    if (!account)
      throw invalid(
        `${user.name} has no own account on target ${request.target} (set users[].accounts.${request.target} in the config, or ownAccount on the target)`,
      );
    const secret = ephemeral ? secrets.take(request.target) : null;
    const sealedSecret = secret === null ? null : records.seal(id, secret);
    const grant: GrantRecord = {
      id,
      requestId: request.id,
      user: request.user,
      profile: request.profile,
      target: request.target,
      mode: request.mode,
      account,
      roles: [...profile.grants],
      durationMs: request.durationMs,
      maxDurationMs: request.maxDurationMs,
      terminateSessions: ephemeral || profile.terminateSessionsOnRevoke,
      status: 'provisioning',
      createdAt: now,
      activatedAt: null,
      expiresAt: null,
      revokeReason: null,
      revokeRequestedBy: null,
      revokedAt: null,
      lastError: null,
      attempts: 0,
      nextAttemptAt: null,
      failingSince: null,
      sealedSecret,
      sessionLeaseUntil: sessionLeaseMs === undefined ? null : now + sessionLeaseMs,
      claimedBy: brokerId,
      claimedUntil: now + settings.revokeLeaseMs,
      version: 1,
    };
    if (secret !== null && sealedSecret !== null) records.remember(grant, sealedSecret, secret);
    return grant;
  }

  /** The profile's allowBuiltinPrivileged as the config says now (ad); absent when not set. */
  const builtinAllowed = (g: GrantRecord) => (deps.catalog().profiles.get(g.profile)?.allowBuiltinPrivileged ? { allowBuiltinPrivileged: true } : {});

  /**
   * Does the target work for a `provisioning` grant and activates it. `known`
   * is the record as its caller just wrote it (saves a read); a change made
   * meanwhile is caught by the activation's compare-and-swap.
   */
  async function provision(grantId: string, known?: GrantRecord): Promise<GrantRecord> {
    inFlight.add(grantId);
    try {
      const g = known?.id === grantId && known.status === 'provisioning' ? known : await mustGet(grantId);
      if (g.status !== 'provisioning') return g;
      const started = clock.now();
      const secret = secretOf(g);
      faults.hit('provision.after-intent');
      try {
        const connector = connectors.get(g.target);
        if (g.mode === 'ephemeral-account') {
          // Target-side expiry (dead man's switch) from the planned activation;
          // the store's expiresAt, counted from actual activation, is the truth.
          await connector.createAccount({
            account: g.account,
            secret: secret!,
            grants: g.roles,
            expiresAt: new Date(started + g.durationMs),
            // Session-bound: a gateway's own account for one connection, whose credential stays with it.
            ...(g.sessionLeaseUntil !== null ? { gatewayOnly: true } : {}),
            // Kinds that log in with keys: the owner's registered keys too (core/keys/grant-keys.ts).
            ...(connector.publicKeyLogin ? { publicKeys: (await ownerKeysFor(store, connector, g)).map((k) => k.publicKey) } : {}),
            ...builtinAllowed(g),
          });
        } else {
          await accountLocks.run(`${g.target}\u0000${g.account}`, () =>
            connector.grantToAccount({ account: g.account, grants: g.roles, ...builtinAllowed(g) }),
          );
        }
      } catch (err) {
        return await provisioningFailed(g, err, secret);
      }
      faults.hit('provision.after-target');
      const now = clock.now();
      const activated = await store.transaction(async (tx) => {
        const patch = {
          status: 'active' as const,
          activatedAt: now,
          expiresAt: now + g.durationMs,
          // A session lease runs from activation, however long provisioning took (its length is what the gateway asked for).
          ...(g.sessionLeaseUntil !== null ? { sessionLeaseUntil: now + Math.max(0, g.sessionLeaseUntil - g.createdAt) } : {}),
          // Provisioning's work is done: the claim goes, and the grant's expiry is for whichever broker claims it then.
          claimedBy: null,
          claimedUntil: null,
        };
        // Usually nothing changed since the intent: swap on the version we hold; otherwise look.
        let cur = g;
        if (!(await tx.casGrant(g.id, g.version, patch))) {
          cur = await mustGet(grantId, tx);
          if (cur.status !== 'provisioning' || cur.durationMs !== g.durationMs || !(await tx.casGrant(cur.id, cur.version, patch))) return null;
        }
        await tx.appendAudit({
          at: now,
          actor: 'stint',
          action: 'grant.activated',
          requestId: cur.requestId,
          grantId: cur.id,
          target: cur.target,
          subjectUser: cur.user,
          details: { account: cur.account, roles: cur.roles, mode: cur.mode, expiresAt: new Date(patch.expiresAt).toISOString(), broker: brokerId },
        });
        await notifier.record(tx, activeNote(cur, now, patch.expiresAt));
        faults.hit('provision.before-commit');
        return { ...cur, ...patch, version: cur.version + 1 };
      });
      if (!activated) {
        // Revoked while we were provisioning: the revoke path owns it now; make sure it runs (here, when
        // this broker holds it: a revoke on another broker leaves the claim with the one provisioning).
        const cur = await mustGet(grantId);
        if (cur.status === 'revoking' || cur.status === 'revoke-failing') await revokeOwned(cur);
        return mustGet(grantId);
      }
      telemetry.count('grants_activated', { target: g.target, mode: g.mode });
      telemetry.observe('provision_seconds', { target: g.target, mode: g.mode }, (now - started) / 1000);
      log.info({ grantId, target: g.target, user: g.user, account: g.account, expiresAt: activated.expiresAt }, 'grant active');
      notifier.committed(activeNote(activated, now, activated.expiresAt!));
      deps.onScheduleChange?.(activated.expiresAt!);
      return activated;
    } finally {
      inFlight.delete(grantId);
    }
  }

  async function provisioningFailed(g: GrantRecord, err: unknown, secret: string | null): Promise<never> {
    const message = safeErrorText(err, [secret]);
    const now = clock.now();
    telemetry.count('provision_failures', { target: g.target });
    log.error({ grantId: g.id, target: g.target, error: message }, 'provisioning failed; rolling back');
    await store.transaction(async (tx) => {
      const cur = await mustGet(g.id, tx);
      if (cur.status !== 'provisioning') return;
      await tx.casGrant(cur.id, cur.version, {
        status: 'revoking',
        revokeReason: 'provisioning-failed',
        revokeRequestedBy: 'stint',
        lastError: message,
        nextAttemptAt: now + settings.revokeLeaseMs,
        claimedBy: brokerId,
        claimedUntil: now + settings.revokeLeaseMs,
      });
      await tx.appendAudit({
        at: now,
        actor: 'stint',
        action: 'grant.provisioning-failed',
        requestId: cur.requestId,
        grantId: cur.id,
        target: cur.target,
        subjectUser: cur.user,
        details: { error: message, broker: brokerId },
      });
    });
    // Roll back whatever part of the work reached the target (idempotent).
    let cur = await mustGet(g.id);
    if (cur.status === 'revoking') cur = await revokeOwned(cur);
    const retryable = err instanceof TargetError ? err.retryable : true;
    const aftermath =
      cur.status === 'revoked' ? 'nothing was left on the target' : `cleaning up on the target is still being retried (grant ${g.id} is ${cur.status})`;
    throw new StintError(retryable ? 'target_unavailable' : 'invalid', `could not provision grant ${g.id} on target ${g.target}: ${message}; ${aftermath}`);
  }

  return { newGrant, provision };
}

function activeNote(g: GrantRecord, now: number, expiresAt: number): Notification {
  return {
    kind: 'grant.active',
    at: now,
    ...grantFacts(g),
    duration: formatDuration(g.durationMs),
    expiresAt,
    message: `${g.user} has ${g.profile} until ${new Date(expiresAt).toISOString()}`,
  };
}
