// Grants: delivering access on the target and taking it away again.
//
// The store is written before the target is touched: a grant is inserted as
// `provisioning` (by the request service, in the approving transaction), the
// target work happens, then the grant becomes `active` and its clock starts.
// Revocation marks `revoking` first, then removes on the target, and is only
// marked `revoked` once the target confirmed. Failures are retried forever
// with capped exponential backoff and jitter (`revoke-failing`).

import { readsEverything } from '../identity/roles.js';
import { ownAccountOf } from '../identity/own-account.js';
import { StintError, TargetError, conflict, forbidden, invalid, notFound } from '../errors.js';
import { formatDuration } from '../duration.js';
import { newGrantId } from '../ids.js';
import { KeyedMutex } from '../keyed-mutex.js';
import type { Clock, ConnectorRegistry, Logger, Notifier, Sealer, Store, StoreTx, Telemetry } from '../ports.js';
import { safeErrorText } from '../scrub.js';
import type { Catalog, GrantRecord, RequestRecord, UserDef } from '../types.js';
import { ephemeralAccountName } from './naming.js';
import { createRevocation } from './revocation.js';
import { createSecretPool } from './secret-pool.js';
import { noFaults, type Faults } from '../faults.js';
import { handOver, ownerKeysFor, type HandedOver } from '../keys/grant-keys.js';

export interface GrantSettings {
  revokeRetryInitialMs: number;
  revokeRetryMaxMs: number;
  revokeConcurrency: number;
  /** How long a `revoking` claim lasts before another worker may retry it (crash recovery). */
  revokeLeaseMs: number;
  /** A grant still `provisioning` after this long was abandoned by a dead broker and is rolled back. */
  provisionTimeoutMs: number;
  /** Secrets for ephemeral accounts kept prepared ahead per target (default 16; 0 turns it off). */
  preparedSecrets?: number;
}

export const defaultGrantSettings: GrantSettings = {
  revokeRetryInitialMs: 1000,
  revokeRetryMaxMs: 60_000,
  revokeConcurrency: 8,
  // Revocation is idempotent, so a short lease is safe: at worst two workers both remove what is gone.
  revokeLeaseMs: 5_000,
  provisionTimeoutMs: 120_000,
};

export interface GrantServiceDeps {
  store: Store;
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
}

export interface Credentials extends HandedOver {
  target: string;
  kind: string;
  account: string;
  connection: Record<string, string | number>;
}

export type RevokeReason =
  | 'expired'
  | 'checked-in'
  | 'revoked-by-admin'
  | 'provisioning-failed'
  | 'provisioning-interrupted'
  | 'user-removed'
  | 'profile-removed'
  | 'target-removed'
  | 'drift'
  | 'session-ended'
  /** A session-bound grant whose gateway stopped renewing its lease (it or the broker died). */
  | 'session-lost';

const secretContext = (grantId: string) => `grant:${grantId}`;

export function createGrantService(deps: GrantServiceDeps) {
  const { store, connectors, sealer, clock, notifier, log, telemetry, settings } = deps;
  const faults = deps.faults ?? noFaults;
  const accountLocks = deps.accountLocks ?? new KeyedMutex();
  /** Grants this broker is working on right now; the worker skips them. */
  const inFlight = new Set<string>();
  const extendLocks = new KeyedMutex();
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
    if (!account) throw invalid(`${user.name} has no own account on target ${request.target} (set users[].accounts.${request.target} in the config, or ownAccount on the target)`);
    const secret = ephemeral ? secrets.take(request.target) : null;
    const sealedSecret = secret === null ? null : sealer.seal(secret, secretContext(id));
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
      version: 1,
    };
    if (secret !== null && sealedSecret !== null) justSealed.set(grant, { sealed: sealedSecret, secret });
    return grant;
  }

  /**
   * The plaintext of a secret sealed moments ago, kept with the very record
   * newGrant returned (which the auto-approving caller hands to provision), so
   * that provisioning does not open what it just sealed. Gone with the record.
   */
  const justSealed = new WeakMap<GrantRecord, { sealed: string; secret: string }>();

  /** Someone else's grant: 403 to an auditor (who may read it), 404 to anyone else (its existence is not told). */
  function notYours(g: GrantRecord, actor: UserDef): StintError {
    return readsEverything(actor) ? forbidden(`grant ${g.id} belongs to ${g.user}; only they or an admin may change it`) : notFound(`grant ${g.id} not found`);
  }

  async function mustGet(id: string, tx: Pick<StoreTx, 'getGrant'> = store): Promise<GrantRecord> {
    const g = await tx.getGrant(id);
    if (!g) throw notFound(`grant ${id} not found`);
    return g;
  }

  function secretOf(g: GrantRecord): string | null {
    if (!g.sealedSecret) return null;
    const known = justSealed.get(g);
    return known?.sealed === g.sealedSecret ? known.secret : sealer.unseal(g.sealedSecret, secretContext(g.id));
  }

  const { markRevoking, performRevoke, revokeOwned } = createRevocation({
    store, connectors, clock, notifier, log, telemetry, settings, faults, accountLocks, inFlight, mustGet, secretOf,
    onScheduleChange: deps.onScheduleChange,
  });

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
            account: g.account, secret: secret!, grants: g.roles, expiresAt: new Date(started + g.durationMs),
            // Session-bound: a gateway's own account for one connection, whose credential stays with it.
            ...(g.sessionLeaseUntil !== null ? { gatewayOnly: true } : {}),
            // Kinds that log in with keys: the owner's registered keys too (core/keys/grant-keys.ts).
            ...(connector.publicKeyLogin ? { publicKeys: (await ownerKeysFor(store, connector, g)).map((k) => k.publicKey) } : {}),
          });
        } else {
          await accountLocks.run(`${g.target}\u0000${g.account}`, () => connector.grantToAccount({ account: g.account, grants: g.roles }));
        }
      } catch (err) {
        return await provisioningFailed(g, err, secret);
      }
      faults.hit('provision.after-target');
      const now = clock.now();
      const activated = await store.transaction(async (tx) => {
        const patch = {
          status: 'active' as const, activatedAt: now, expiresAt: now + g.durationMs,
          // A session lease runs from activation, however long provisioning took (its length is what the gateway asked for).
          ...(g.sessionLeaseUntil !== null ? { sessionLeaseUntil: now + Math.max(0, g.sessionLeaseUntil - g.createdAt) } : {}),
        };
        // Usually nothing changed since the intent: swap on the version we hold; otherwise look.
        let cur = g;
        if (!(await tx.casGrant(g.id, g.version, patch))) {
          cur = await mustGet(grantId, tx);
          if (cur.status !== 'provisioning' || cur.durationMs !== g.durationMs || !(await tx.casGrant(cur.id, cur.version, patch))) return null;
        }
        await tx.appendAudit({
          at: now, actor: 'stint', action: 'grant.activated', requestId: cur.requestId, grantId: cur.id, target: cur.target, subjectUser: cur.user,
          details: { account: cur.account, roles: cur.roles, mode: cur.mode, expiresAt: new Date(patch.expiresAt).toISOString() },
        });
        faults.hit('provision.before-commit');
        return { ...cur, ...patch, version: cur.version + 1 };
      });
      if (!activated) {
        // Revoked while we were provisioning: the revoke path owns it now; make sure it runs.
        const cur = await mustGet(grantId);
        if (cur.status === 'revoking' || cur.status === 'revoke-failing') await revokeOwned(cur);
        return mustGet(grantId);
      }
      telemetry.count('grants_activated', { target: g.target, mode: g.mode });
      telemetry.observe('provision_seconds', { target: g.target, mode: g.mode }, (now - started) / 1000);
      log.info({ grantId, target: g.target, user: g.user, account: g.account, expiresAt: activated.expiresAt }, 'grant active');
      notifier.notify({ kind: 'grant.active', at: now, grantId, requestId: g.requestId, user: g.user, target: g.target, profile: g.profile, message: `${g.user} has ${g.profile} until ${new Date(activated.expiresAt!).toISOString()}` });
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
        status: 'revoking', revokeReason: 'provisioning-failed', revokeRequestedBy: 'stint', lastError: message, nextAttemptAt: now + settings.revokeLeaseMs,
      });
      await tx.appendAudit({ at: now, actor: 'stint', action: 'grant.provisioning-failed', requestId: cur.requestId, grantId: cur.id, target: cur.target, subjectUser: cur.user, details: { error: message } });
    });
    // Roll back whatever part of the work reached the target (idempotent).
    let cur = await mustGet(g.id);
    if (cur.status === 'revoking') cur = await revokeOwned(cur);
    const retryable = err instanceof TargetError ? err.retryable : true;
    const aftermath = cur.status === 'revoked' ? 'nothing was left on the target' : `cleaning up on the target is still being retried (grant ${g.id} is ${cur.status})`;
    throw new StintError(retryable ? 'target_unavailable' : 'invalid', `could not provision grant ${g.id} on target ${g.target}: ${message}; ${aftermath}`);
  }

  /**
   * Starts revocation: marks `revoking` (the intent) and then removes access.
   * Returns the grant as it stands afterwards (`revoked`, or `revoke-failing`
   * when the target did not confirm — it keeps being retried).
   */
  async function revoke(input: { grantId: string; actor: UserDef; reason?: RevokeReason }): Promise<GrantRecord> {
    const g = await mustGet(input.grantId);
    if (g.user !== input.actor.name && !input.actor.admin) throw notYours(g, input.actor);
    const reason: RevokeReason = input.reason ?? (g.user === input.actor.name ? 'checked-in' : 'revoked-by-admin');
    if (g.status === 'revoked') return g;
    const marked = await markRevoking(g.id, reason, input.actor.name, g);
    if (marked.status === 'revoking' || marked.status === 'revoke-failing') {
      // A revocation already under way elsewhere in this broker finishes it.
      if (!inFlight.has(marked.id)) return performRevoke(marked);
    }
    return marked;
  }

  /**
   * Extends an active grant; never past its maximum counted from activation.
   * One extension of a grant at a time in this broker: each starts from the
   * expiry the one before left, so the account's expiry on the target ends
   * where the store's does (extends that overlapped used to set the target
   * in one order and the store in another).
   */
  async function extend(input: { grantId: string; actor: UserDef; byMs: number }): Promise<GrantRecord> {
    if (!Number.isSafeInteger(input.byMs) || input.byMs <= 0) throw invalid('extension must be a positive amount of time');
    const first = await mustGet(input.grantId);
    if (first.user !== input.actor.name && !input.actor.admin) throw notYours(first, input.actor);
    return extendLocks.run(first.id, () => extendNow(input));
  }

  async function extendNow(input: { grantId: string; actor: UserDef; byMs: number }): Promise<GrantRecord> {
    const g = await mustGet(input.grantId);
    if (g.status !== 'active' || g.activatedAt === null || g.expiresAt === null) throw conflict(`grant ${g.id} is ${g.status}, not active; only active grants can be extended`);
    // Its length is the gateway's maxSession cap; a longer session is a new connection.
    if (g.sessionLeaseUntil !== null) throw conflict(`grant ${g.id} belongs to one gateway connection and cannot be extended; reconnect for a new one`);
    const limit = g.activatedAt + g.maxDurationMs;
    const newExpiry = g.expiresAt + input.byMs;
    if (newExpiry > limit) {
      const room = Math.max(0, limit - g.expiresAt);
      throw invalid(
        `extending by ${formatDuration(input.byMs)} would go past the maximum of ${formatDuration(g.maxDurationMs)} from activation (${new Date(limit).toISOString()}); ` +
          (room >= 1000 ? `you can extend by at most ${formatDuration(room)}` : 'the grant is already at its maximum'),
      );
    }
    if (g.mode === 'ephemeral-account') {
      try {
        await connectors.get(g.target).extendAccount({ account: g.account, expiresAt: new Date(newExpiry) });
      } catch (err) {
        // Lost a race with expiry or revoke (the account is already gone): say so plainly.
        const cur = await mustGet(g.id);
        if (cur.status !== 'active') throw conflict(`grant ${g.id} is no longer active (it expired or was revoked); it was not extended`);
        const retryable = err instanceof TargetError ? err.retryable : true;
        throw new StintError(retryable ? 'target_unavailable' : 'conflict', `could not extend on target ${g.target}: ${safeErrorText(err, [secretOf(g)])}`);
      }
    }
    const now = clock.now();
    const updated = await store.transaction(async (tx) => {
      const cur = await mustGet(g.id, tx);
      if (cur.status !== 'active' || cur.expiresAt !== g.expiresAt) return null;
      if (!(await tx.casGrant(cur.id, cur.version, { expiresAt: newExpiry }))) return null;
      await tx.appendAudit({
        at: now, actor: input.actor.name, action: 'grant.extended', requestId: cur.requestId, grantId: cur.id, target: cur.target, subjectUser: cur.user,
        details: { by: formatDuration(input.byMs), previousExpiresAt: new Date(g.expiresAt!).toISOString(), expiresAt: new Date(newExpiry).toISOString() },
      });
      return { ...cur, expiresAt: newExpiry, version: cur.version + 1 };
    });
    if (!updated) {
      const cur = await mustGet(g.id);
      // Lost a race with expiry or revoke: the store wins, and the revoke path removes the account.
      if (cur.status !== 'active' || cur.expiresAt === null) throw conflict(`grant ${g.id} changed while extending (it expired or was revoked); it was not extended`);
      // Extended meanwhile by another broker sharing the store: the target's expiry follows the store's again.
      if (g.mode === 'ephemeral-account') {
        await connectors.get(g.target).extendAccount({ account: g.account, expiresAt: new Date(cur.expiresAt) }).catch((err: unknown) =>
          log.warn({ grantId: g.id, target: g.target, error: safeErrorText(err, [secretOf(g)]) }, 'could not set the account\'s expiry on the target back to the grant\'s'),
        );
      }
      throw conflict(`grant ${g.id} changed while extending (it now expires at ${new Date(cur.expiresAt).toISOString()}); this extension was not applied, try again`);
    }
    return updated;
  }

  /** An active grant's credential, for its owner's use. */
  async function credentialOf(grantId: string, owner: UserDef): Promise<{ grant: GrantRecord; credentials: Credentials }> {
    const g = await mustGet(grantId);
    // An admin or auditor may see the grant, but not its secret; to anyone else it is not there.
    if (g.user !== owner.name) throw readsEverything(owner) ? forbidden(`only ${g.user} may see the credentials of grant ${g.id}`) : notFound(`grant ${grantId} not found`);
    if (g.status !== 'active') throw conflict(`grant ${g.id} is ${g.status}; credentials exist only while it is active`);
    const target = deps.catalog().targets.get(g.target);
    const connector = connectors.get(g.target);
    return { grant: g, credentials: { target: g.target, kind: target?.kind ?? 'unknown', account: g.account, password: secretOf(g), connection: connector.connectionInfo() } };
  }

  /** The credential handed to its owner: the one response that carries a secret. Audited (without the secret). */
  async function credentials(input: { grantId: string; actor: UserDef }): Promise<Credentials> {
    const cur = await mustGet(input.grantId);
    // A gateway made it for one connection it relays and records; its secret never reaches the person.
    if (cur.sessionLeaseUntil !== null && cur.user === input.actor.name) {
      throw forbidden(`grant ${cur.id} was made by a session gateway for one connection; its credential stays with the gateway`);
    }
    const { grant: g, credentials: c } = await credentialOf(input.grantId, input.actor);
    // What the person logs in with, which for some kinds is not the secret itself (a private key, their own keys).
    const handed = g.mode === 'ephemeral-account' ? await handOver(store, connectors.get(g.target), g, c.password) : { password: c.password };
    await store.appendAudit({
      at: clock.now(), actor: input.actor.name, action: 'grant.credentials-viewed', requestId: g.requestId, grantId: g.id, target: g.target, subjectUser: g.user,
      details: { account: g.account, ...(handed.login ? { loginWith: handed.privateKey ? 'private-key' : 'own-keys' } : {}) },
    });
    return { target: c.target, kind: c.kind, account: c.account, connection: c.connection, ...handed };
  }

  /**
   * The credential a session gateway uses upstream on the owner's behalf. The
   * person never sees it, so it is not a credentials-viewed event; the gateway
   * audits the session it opens with it.
   */
  async function upstreamCredentials(input: { grantId: string; owner: UserDef }): Promise<Credentials> {
    return (await credentialOf(input.grantId, input.owner)).credentials;
  }

  /**
   * One pass of expiry and retry work: revokes active grants past expiry and
   * retries revoking/revoke-failing ones that are due. Returns how many it handled.
   */
  async function processDue(limit = 500): Promise<number> {
    const now = clock.now();
    const due = await store.listDueGrants(now, limit);
    // Provisioning abandoned by a broker that died (another one, or this one before a restart).
    const abandoned = (await store.listGrants({ statuses: ['provisioning'], limit })).filter((g) => g.createdAt + settings.provisionTimeoutMs <= now && !inFlight.has(g.id));
    for (const g of abandoned) {
      const cur = await markRevoking(g.id, 'provisioning-interrupted', 'stint');
      if (cur.status === 'revoking') due.push(cur);
    }
    const work = due.filter((g) => !inFlight.has(g.id));
    await Promise.all(
      work.map(async (g) => {
        try {
          const reason: RevokeReason = g.expiresAt !== null && g.expiresAt <= now ? 'expired' : 'session-lost';
          const cur = g.status === 'active' ? await markRevoking(g.id, reason, 'stint', g) : g;
          if (cur.status === 'revoking' || cur.status === 'revoke-failing') await performRevoke(cur);
        } catch (err) {
          log.error({ grantId: g.id, error: safeErrorText(err) }, 'expiry work failed; will retry');
        }
      }),
    );
    return work.length;
  }

  /**
   * After a restart: a grant left in `provisioning` was interrupted between
   * intent and activation. It is rolled back (removed on the target, which is
   * idempotent), never left half-made.
   */
  async function recoverInterrupted(opts: { onlyAbandoned: boolean }): Promise<number> {
    // With a store shared by several brokers, another one may be working on a grant right now:
    // only take over what is older than the provisioning timeout or past its revoke lease.
    const now = clock.now();
    const stuck = (await store.listGrants({ statuses: ['provisioning', 'revoking'] })).filter(
      (g) => !opts.onlyAbandoned || (g.status === 'provisioning' ? g.createdAt + settings.provisionTimeoutMs <= now : (g.nextAttemptAt ?? 0) <= now),
    );
    // Session-bound grants belong to connections, and no connection outlives
    // its broker. A broker that owns its store (SQLite) knows every such grant
    // was its own and revokes them now; with a shared store another broker's
    // live sessions may hold some, so their leases decide (processDue).
    if (!opts.onlyAbandoned) stuck.push(...(await store.listGrants({ statuses: ['active'], sessionBound: true })));
    let n = 0;
    await Promise.all(
      stuck.map(async (g) => {
        if (inFlight.has(g.id)) return;
        if (g.status === 'active') {
          const cur = await markRevoking(g.id, 'session-lost', 'stint');
          if (cur.status === 'revoking') {
            await performRevoke(cur);
            n++;
          }
          return;
        }
        // A revocation cut short is finished now rather than after its lease.
        const cur = g.status === 'provisioning' ? await markRevoking(g.id, 'provisioning-interrupted', 'stint') : g;
        if (cur.status === 'revoking') {
          await performRevoke(cur);
          n++;
        }
      }),
    );
    return n;
  }

  /**
   * A gateway's heartbeat for the session-bound grants of its live
   * connections: moves their leases to now + leaseMs. A grant whose lease
   * lapses is revoked by the expiry loop (`session-lost`).
   */
  async function renewSessionLeases(grantIds: readonly string[], leaseMs: number): Promise<number> {
    if (grantIds.length === 0) return 0;
    return store.renewSessionLeases(grantIds, clock.now() + leaseMs);
  }

  return { newGrant, provision, revoke, extend, credentials, upstreamCredentials, processDue, recoverInterrupted, renewSessionLeases, get: mustGet };
}

export type GrantService = ReturnType<typeof createGrantService>;
