// The one composition root: loads config, opens the store and the vault,
// builds connectors and services, and wires the HTTP API and the expiry worker.

import { createHash, hkdfSync } from 'node:crypto';
import { hostname } from 'node:os';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { buildApi } from './api/server.js';
import { createPostgresGateway, type PostgresGateway } from './gateways/postgres/index.js';
import { createSshGateway, type SshGateway } from './gateways/ssh/index.js';
import { loadHostKey } from './gateways/ssh/host-key.js';
import { sweepRecordings } from './gateways/shared/recording-copy.js';
import { createKeyService, type KeyService } from './core/keys/key-service.js';
import type { GatewaysInfo } from './api/deps.js';
import { createAuditService } from './core/audit/audit-service.js';
import { createCheckpointService, type CheckpointService } from './core/audit/checkpoint-service.js';
import { createPeriodicWorker } from './core/periodic.js';
import { createExportWorker, type ExportWorker } from './core/audit/export-worker.js';
import { auditSinks } from './export/sinks.js';
import { brokerHeartbeatMs, createBrokerRegistry, type BrokerRegistry } from './core/brokers/broker-registry.js';
import { randomId } from './core/ids.js';
import { createExpiryWorker, type ExpiryWorker } from './core/expiry/expiry-worker.js';
import { createGrantService, defaultGrantSettings, type GrantService, type RevokeReason } from './core/grant/grant-service.js';
import type { Clock, ConnectorRegistry, Notifier, Store } from './core/ports.js';
import { systemClock } from './core/ports.js';
import { createRequestService, type RequestService } from './core/request/request-service.js';
import { blocksConfig, describeOrphans, findOrphans, targetsToKeep, type Orphans } from './core/catalog-change.js';
import { StintError } from './core/errors.js';
import { createTargetConnectors } from './target-connectors.js';
import { connectorModules } from './connectors/registry.js';
import { faultsFromEnv } from './core/faults.js';
import { KeyedMutex } from './core/keyed-mutex.js';
import { createReconcileService, type ReconcileService } from './core/reconcile/reconcile-service.js';
import { createReconcileWorker } from './core/reconcile/reconcile-worker.js';
import { safeErrorText } from './core/scrub.js';
import { settleWithin } from './core/settle-within.js';
import { systemActor } from './core/system-actor.js';
import { builtinAdmin, createTokenService, type TokenService } from './core/tokens/token-service.js';
import { liveGrantStatuses, type Catalog, type GrantRecord } from './core/types.js';
import { loadConfigFile, type OidcSettings } from './config/load.js';
import { readPrivateFile } from './config/secrets.js';
import { checkProfilesOnTargets } from './config/target-check.js';
import { createRecheckWorker } from './core/identity/recheck-worker.js';
import { createSignInService, defaultRecheckMs, maxSignInsPerUser, type SignInService } from './core/identity/signin-service.js';
import { createOidcProvider } from './identity/oidc.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { openStore } from './store/index.js';
import { checkMasterKey, loadMasterKey } from './vault/master-key.js';
import { createVault } from './vault/vault.js';
import { createNotifications } from './notify/setup.js';
import type { DeliveryWorker } from './notify/delivery-worker.js';

export const version = '0.1.0';

export interface AppOptions {
  configPath: string;
  dataDir: string;
  /** Defaults to SQLite in the data dir; `postgres://…` shares one store between brokers. */
  storeUrl?: string;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  logger?: PinoLogger;
  /** Expiry worker's longest sleep; tests shorten it. */
  workerMaxSleepMs?: number;
  /** Revoke live grants whose profile or target the config removed, instead of refusing to start. */
  revokeOrphans?: boolean;
  /** How often a sign-in is re-checked with the identity provider (default 15 min; tests shorten it). */
  signInRecheckMs?: number;
  /** Overrides of the config's broker settings (tests). */
  revokeRetry?: { initialMs: number; maxMs: number };
  /** close() gives up waiting after this (default 60 s); what is left ends with the process. */
  shutdownTimeoutMs?: number;
  /** This broker's id among those sharing the store (default: host name and a random suffix, new at each start). */
  brokerId?: string;
}

export interface App {
  api: FastifyInstance;
  store: Store;
  catalog: Catalog;
  requests: RequestService;
  grants: GrantService;
  tokens: TokenService;
  signIns: SignInService;
  signInRecheck: { runOnce(): Promise<void> };
  keys: KeyService;
  worker: ExpiryWorker;
  checkpoints: CheckpointService;
  /** SIEM export of the audit trail, when the config has `broker.auditExport`. */
  auditExport: ExportWorker | null;
  connectors: ConnectorRegistry;
  /** Written on first start only; undefined afterwards. */
  initialAdminToken: string | undefined;
  reconcile: ReconcileService;
  /** The PostgreSQL session gateway, when the config has `gateways.postgres`. */
  postgresGateway: PostgresGateway | null;
  /** The SSH session gateway, when the config has `gateways.ssh`. */
  sshGateway: SshGateway | null;
  /** The brokers sharing the store, this one's heartbeat among them. */
  brokers: BrokerRegistry;
  /** Sends the notification outbox. */
  notifications: DeliveryWorker;
  /** Re-reads the config file; refused when it would orphan live grants unless revokeOrphans. */
  reload(input?: { revokeOrphans?: boolean }): Promise<{ orphansRevoked: number }>;
  listen(host: string, port: number): Promise<string>;
  close(): Promise<void>;
}

export async function createApp(opts: AppOptions): Promise<App> {
  const env = opts.env ?? process.env;
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? createLogger();
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });

  const config = await loadConfigFile(opts.configPath);
  // What `stint brokers` compares between brokers: the file as read (a reload reads it again).
  let configDigest = createHash('sha256')
    .update(await readFile(opts.configPath))
    .digest('hex');
  const brokerId = opts.brokerId ?? `${hostname()}-${randomId(6)}`;
  let listenUrl = '';
  let closing = false;

  const masterKey = await loadMasterKey({ env, dataDir: opts.dataDir });
  const vault = createVault(masterKey.key);
  const storeUrl = opts.storeUrl ?? env.STINT_STORE_URL;
  const store = await openStore(
    storeUrl && /^postgres(ql)?:\/\//.test(storeUrl)
      ? { kind: 'postgres', connectionString: storeUrl }
      : { kind: 'sqlite', path: storeUrl ?? join(opts.dataDir, 'stint.db') },
  );
  const brokers = createBrokerRegistry({
    store,
    clock,
    id: brokerId,
    version,
    address: () => listenUrl,
    configDigest: () => configDigest,
    startedAt: clock.now(),
  });
  const metrics = createMetrics({ store, brokerDigests: async () => (await brokers.list()).map((b) => b.configDigest) });
  const targets = createTargetConnectors({
    store,
    vault,
    env,
    clock,
    log,
    concurrency: config.broker.revokeConcurrency,
    telemetry: metrics.telemetry,
  });
  const connectors = targets.registry;
  let catalog: Catalog = config.catalog;
  const getCatalog = () => catalog;
  let startupOrphans: Orphans;
  try {
    await checkMasterKey(store, vault, masterKey.source);
    // Only the grants the config does not back are read: a store with 100k live grants starts without loading them all.
    startupOrphans = findOrphans(await store.listGrants({ statuses: liveGrantStatuses, unbackedBy: catalogNames(catalog) }), catalog);
    if (blocksConfig(startupOrphans) && !opts.revokeOrphans) throw new StintError('conflict', describeOrphans(startupOrphans, clock.now()));
    await targets.apply(catalog, targetsToKeep(startupOrphans, catalog));
    await checkProfilesOnTargets(config, { connectors, warn: (target, message) => log.warn({ target }, message) });
  } catch (err) {
    await targets.closeAll();
    await store.close();
    throw err;
  }

  const accountLocks = new KeyedMutex();
  let outbox: Awaited<ReturnType<typeof createNotifications>>;
  try {
    outbox = await createNotifications({
      config,
      env,
      store,
      catalog: getCatalog,
      clock,
      log,
      telemetry: metrics.telemetry,
      faults: faultsFromEnv(env.STINT_FAULTS),
      brokerId,
    });
  } catch (err) {
    await targets.closeAll();
    await store.close();
    throw err;
  }
  const notifier: Notifier = outbox.notifier;
  let worker: ExpiryWorker | undefined;
  const grants = createGrantService({
    store,
    catalog: getCatalog,
    connectors,
    sealer: vault,
    clock,
    notifier,
    log,
    telemetry: metrics.telemetry,
    settings: {
      ...defaultGrantSettings,
      revokeRetryInitialMs: opts.revokeRetry?.initialMs ?? config.broker.revokeRetryInitialMs,
      revokeRetryMaxMs: opts.revokeRetry?.maxMs ?? config.broker.revokeRetryMaxMs,
      revokeConcurrency: config.broker.revokeConcurrency,
    },
    onScheduleChange: (at) => worker?.dueBy(at),
    faults: faultsFromEnv(env.STINT_FAULTS),
    accountLocks,
    brokerId,
  });
  // Claims on the grants this broker is working on stay alive while it works; a dead broker's lapse.
  const claimKeeper = createPeriodicWorker({
    name: 'grant claim renewal',
    run: grants.renewClaims,
    log,
    intervalMs: Math.max(200, Math.floor(defaultGrantSettings.revokeLeaseMs / 3)),
  });
  const heartbeat = createPeriodicWorker({ name: 'broker heartbeat', run: brokers.heartbeat, log, intervalMs: brokerHeartbeatMs, initialDelayMs: 0 });
  const requests = createRequestService({
    store,
    catalog: getCatalog,
    grants,
    clock,
    notifier,
    log,
    telemetry: metrics.telemetry,
    settings: { pendingTimeoutMs: config.broker.pendingTimeoutMs },
    accountProblem: (t, account) => connectorModules[t.kind].checkAccount(account),
  });
  const tokens = createTokenService({ store, catalog: getCatalog, clock });
  const oidc = config.identity.oidc;
  const signIns = createSignInService({
    store,
    clock,
    sealer: vault,
    log,
    catalog: getCatalog,
    provider: oidc ? createOidcProvider(oidc, await readOidcClientSecret(oidc, env)) : null,
    settings: {
      sessionTtlMs: config.identity.sessionTtlMs,
      recheckMs: opts.signInRecheckMs ?? defaultRecheckMs,
      allowedGroups: oidc?.allowedGroups ?? null,
      maxPerUser: maxSignInsPerUser,
    },
    tokenUser: async (hash) => (await tokens.authenticateHash(hash))?.user,
    cancelPendingOf: (user) => requests.cancelPendingOf(user, 'the identity provider no longer signs this person in'),
  });
  // Checks are due every recheckMs; looking a tenth as often keeps a removed person's access within ~1.1 periods.
  const recheckWorker = createRecheckWorker({ signIns, log, intervalMs: Math.max(1000, Math.floor((opts.signInRecheckMs ?? defaultRecheckMs) / 10)) });
  const keys = createKeyService({
    store,
    catalog: getCatalog,
    clock,
    challengeSecret: Buffer.from(hkdfSync('sha256', masterKey.key, 'stint', 'ssh-key-registration-challenge', 32)),
  });
  const audit = createAuditService({ store });
  const checkpoints = createCheckpointService({
    store,
    vault,
    clock,
    log,
    settings: { everyEvents: config.broker.auditCheckpointEvents, everyMs: config.broker.auditCheckpointMs },
  });
  // Cheap when there is nothing to sign (two reads); often enough that everyEvents is honoured closely.
  const checkpointWorker = createPeriodicWorker({
    name: 'audit checkpoint',
    run: checkpoints.tick,
    log,
    intervalMs: Math.min(10_000, config.broker.auditCheckpointMs),
  });
  const auditExport = config.broker.auditExport ? createExportWorker({ store, sinks: auditSinks(config.broker.auditExport), log }) : null;
  // Recordings in the store past their retention go; every broker sweeps (deleting what is gone already is a no-op).
  const recordingSweeper = createPeriodicWorker({
    name: 'session recording retention',
    run: () => sweepRecordings(store, clock.now(), config.broker.recordingRetentionMs),
    log,
    intervalMs: Math.min(3_600_000, Math.floor(config.broker.recordingRetentionMs / 10)),
    initialDelayMs: 60_000,
  });
  const reconcile = createReconcileService({ store, catalog: getCatalog, connectors, clock, log, grantLocks: accountLocks, snapshots: store });
  const reconcileWorker = createReconcileWorker({ reconcile, log, intervalMs: config.broker.reconcileIntervalMs });
  worker = createExpiryWorker({ store, grants, requests, clock, log, maxSleepMs: opts.workerMaxSleepMs });

  const gw = config.gateways.postgres;
  const gatewayCert = gw?.tlsCert && gw.tlsKey ? await readFile(gw.tlsCert) : null;
  const postgresGateway: PostgresGateway | null = gw
    ? createPostgresGateway({
        tokens,
        requests,
        grants,
        catalog: getCatalog,
        store,
        clock,
        log,
        tls: gatewayCert && gw.tlsKey ? { cert: gatewayCert, key: await readFile(gw.tlsKey), minVersion: gw.tlsMinVersion } : null,
        listen: gw.listen,
        sessionDir: join(opts.dataDir, 'sessions'),
        recordingStore: store,
        requireTls: gw.requireTls,
        maxSessionMs: gw.maxSessionMs ?? undefined,
        handshakeTimeoutMs: gw.handshakeTimeoutMs ?? undefined,
      })
    : null;

  const sshCfg = config.gateways.ssh;
  const sshHostKey = sshCfg ? await loadHostKey({ file: sshCfg.hostKeyFile, dataDir: opts.dataDir, shared: { store, vault } }) : null;
  const sshGateway: SshGateway | null =
    sshCfg && sshHostKey
      ? createSshGateway({
          requests,
          grants,
          catalog: getCatalog,
          store,
          clock,
          log,
          hostKey: sshHostKey.privateKey,
          authorizedKeys: (user) => keys.authorizedKeys(user),
          listen: sshCfg.listen,
          sessionDir: join(opts.dataDir, 'sessions'),
          recordingStore: store,
          maxSessionMs: sshCfg.maxSessionMs ?? undefined,
          algorithms: sshCfg.algorithms,
        })
      : null;
  const hostPort = (a: { host: string; port: number }) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  let gatewayAddresses: { postgres: { host: string; port: number } | null; ssh: { host: string; port: number } | null } = { postgres: null, ssh: null };
  const gatewaysInfo = (): GatewaysInfo => ({
    postgres: gw
      ? {
          listen: hostPort(gatewayAddresses.postgres ?? gw.listen),
          tls: !!gatewayCert,
          requireTls: gw.requireTls,
          certificate: gatewayCert ? gatewayCert.toString('utf8') : null,
        }
      : null,
    ssh:
      sshCfg && sshHostKey
        ? { listen: hostPort(gatewayAddresses.ssh ?? sshCfg.listen), hostKey: sshHostKey.publicKey, fingerprint: sshHostKey.fingerprint }
        : null,
  });

  const initialAdminToken = await ensureAdminToken(store, tokens, opts.dataDir);
  const api = await buildApi(
    {
      version,
      catalog: getCatalog,
      store,
      clock,
      connectors,
      requests,
      grants,
      tokens,
      signIns,
      keys,
      audit,
      checkpoints,
      reconcile,
      metrics,
      configPath: opts.configPath,
      sessionDir: join(opts.dataDir, 'sessions'),
      liveSessions: () => [...(postgresGateway?.sessions.list() ?? []), ...(sshGateway?.sessions.list() ?? [])],
      gateways: gatewaysInfo,
      brokers,
      ready: async () => {
        if (closing) throw new StintError('unavailable', 'this broker is shutting down');
      },
    },
    { logger: log },
  );

  // Work the previous run left unfinished: interrupted provisioning is rolled
  // back; expired and failing grants are picked up by the worker's first pass.
  // One broker owns a SQLite store, so everything in flight there was its own; a shared
  // PostgreSQL store may have other brokers mid-work, whose grants are left to their leases.
  const recovered = await grants.recoverInterrupted({ onlyAbandoned: store.dialect !== 'sqlite' });
  if (recovered > 0) log.warn({ recovered }, 'finished grants whose provisioning or revocation was interrupted');
  await revokeOrphans(startupOrphans, true);
  claimKeeper.start();
  heartbeat.start();
  worker.start();
  outbox.delivery.start();
  reconcileWorker.start();
  checkpointWorker.start();
  auditExport?.start();
  recordingSweeper.start();
  if (oidc) recheckWorker.start();

  /** Revokes what a config change orphaned: removed users always, removed profiles/targets when allowed. */
  async function revokeOrphans(o: Orphans, includeRemovedDefs: boolean): Promise<void> {
    const work: [GrantRecord, RevokeReason][] = [
      ...o.userRemoved.map((g) => [g, 'user-removed'] as [GrantRecord, RevokeReason]),
      ...(includeRemovedDefs ? o.profileRemoved.map((g) => [g, 'profile-removed'] as [GrantRecord, RevokeReason]) : []),
      ...(includeRemovedDefs ? o.targetRemoved.map((g) => [g, 'target-removed'] as [GrantRecord, RevokeReason]) : []),
    ];
    for (const [g, reason] of work) {
      log.warn({ grantId: g.id, user: g.user, profile: g.profile, target: g.target, reason }, 'revoking access the config no longer backs');
      await grants
        .revoke({ grantId: g.id, actor: systemActor, reason })
        .catch((err) => log.error({ grantId: g.id, error: safeErrorText(err) }, 'revoking an orphaned grant failed; the worker retries'));
    }
  }

  /**
   * Applies an edited config file (SIGHUP). Refused, leaving the running
   * config in place, when it would orphan live grants — unless
   * `revokeOrphans`, which revokes them first.
   */
  async function reload(input: { revokeOrphans?: boolean } = {}): Promise<{ orphansRevoked: number }> {
    const next = await loadConfigFile(opts.configPath);
    const orphans = findOrphans(await store.listGrants({ statuses: liveGrantStatuses, unbackedBy: catalogNames(next.catalog) }), next.catalog);
    if (blocksConfig(orphans) && !input.revokeOrphans) throw new StintError('conflict', describeOrphans(orphans, clock.now()));
    await targets.apply(next.catalog, targetsToKeep(orphans, next.catalog));
    try {
      await checkProfilesOnTargets(next, { connectors, warn: (target, message) => log.warn({ target }, message) });
    } catch (err) {
      // The running config stays, with the connectors it had.
      await targets.apply(catalog);
      throw err;
    }
    await revokeOrphans(orphans, true);
    catalog = next.catalog;
    configDigest = createHash('sha256')
      .update(await readFile(opts.configPath))
      .digest('hex');
    await brokers.heartbeat().catch(() => {});
    await store.appendAudit({
      at: clock.now(),
      actor: 'stint',
      action: 'config.reloaded',
      details: {
        file: opts.configPath,
        targets: next.catalog.targets.size,
        profiles: next.catalog.profiles.size,
        policies: next.catalog.policies.length,
        users: next.catalog.users.size,
      },
    });
    log.info({ file: opts.configPath }, 'config reloaded');
    return { orphansRevoked: orphans.userRemoved.length + orphans.profileRemoved.length + orphans.targetRemoved.length };
  }

  let closed = false;
  return {
    api,
    store,
    requests,
    grants,
    tokens,
    signIns,
    signInRecheck: recheckWorker,
    keys,
    worker,
    checkpoints,
    auditExport,
    connectors,
    initialAdminToken,
    notifications: outbox.delivery,
    reload,
    reconcile,
    brokers,
    postgresGateway,
    sshGateway,
    get catalog() {
      return catalog;
    },
    async listen(host, port) {
      await api.listen({ host, port });
      if (postgresGateway) gatewayAddresses = { ...gatewayAddresses, postgres: await postgresGateway.listen() };
      if (sshGateway) {
        gatewayAddresses = { ...gatewayAddresses, ssh: await sshGateway.listen() };
        log.info(
          { hostKey: sshHostKey!.publicKey, fingerprint: sshHostKey!.fingerprint, file: sshHostKey!.file, source: sshHostKey!.source },
          'ssh gateway host key (clients put it in known_hosts)',
        );
      }
      const addr = api.server.address();
      const actualPort = typeof addr === 'object' && addr ? addr.port : port;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
      listenUrl = url;
      await brokers.heartbeat().catch((err: unknown) => log.error({ error: safeErrorText(err) }, 'broker heartbeat failed; will retry'));
      log.info({ url, store: store.dialect, broker: brokerId, targets: [...catalog.targets.keys()] }, 'stint broker listening');
      return url;
    },
    async close() {
      if (closed) return;
      closed = true;
      closing = true;
      const steps = async () => {
        // Session-bound grants are revoked as their connections close: before the worker and store go.
        await Promise.all([postgresGateway?.close(), sshGateway?.close()]);
        await worker!.stop();
        // Claims are renewed until the work holding them is done; then this broker leaves the list.
        await claimKeeper.stop();
        await heartbeat.stop();
        await brokers.leave().catch(() => {});
        await reconcileWorker.stop();
        await checkpointWorker.stop();
        await auditExport?.stop();
        await recordingSweeper.stop();
        await recheckWorker.stop();
        await api.close();
        await outbox.delivery.stop();
        await targets.closeAll();
        await store.close();
      };
      // SIGTERM ends the broker within a bound whatever holds on (the CLI exits the process after this).
      const done = await settleWithin(steps(), opts.shutdownTimeoutMs ?? 60_000);
      if (!done) log.error({ timeoutMs: opts.shutdownTimeoutMs ?? 60_000 }, 'shutdown did not finish in time; stopping anyway');
    },
  };
}

function catalogNames(c: Catalog) {
  return { users: c.peopleFromProvider ? null : [...c.users.keys()], profiles: [...c.profiles.keys()], targets: [...c.targets.keys()] };
}

/** On first start, issues the admin token and writes it to DATA_DIR/admin.token (0600). */
async function ensureAdminToken(store: Store, tokens: TokenService, dataDir: string): Promise<string | undefined> {
  if (await store.getMeta('admin-token-issued')) return undefined;
  const { secret } = await tokens.issue(builtinAdmin.name, 'initial admin token', 'stint');
  const file = join(dataDir, 'admin.token');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  await store.setMeta('admin-token-issued', new Date().toISOString());
  return secret;
}

/** The OIDC client secret, from where the config says it lives; null for a public client. */
async function readOidcClientSecret(oidc: OidcSettings, env: NodeJS.ProcessEnv): Promise<string | null> {
  const src = oidc.clientSecretSource;
  if (!src) return null;
  if ('file' in src) return readPrivateFile(`identity.oidc client secret file ${src.file}`, src.file);
  const value = env[src.env];
  if (!value) throw new StintError('invalid', `identity.oidc: environment variable ${src.env} (clientSecretEnv) is not set or empty`);
  return value;
}
