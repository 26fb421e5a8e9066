// The one composition root: loads config, opens the store and the vault,
// builds connectors and services, and wires the HTTP API and the expiry worker.

import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { buildApi } from './api/server.js';
import { createAuditService } from './core/audit/audit-service.js';
import { createExpiryWorker, type ExpiryWorker } from './core/expiry/expiry-worker.js';
import { createGrantService, defaultGrantSettings, type GrantService } from './core/grant/grant-service.js';
import type { Clock, Connector, ConnectorRegistry, Notifier, Store } from './core/ports.js';
import { systemClock } from './core/ports.js';
import { createRequestService, type RequestService } from './core/request/request-service.js';
import { faultsFromEnv } from './core/faults.js';
import { safeErrorText } from './core/scrub.js';
import { builtinAdmin, createTokenService, type TokenService } from './core/tokens/token-service.js';
import type { Catalog, TargetDef } from './core/types.js';
import { connectorModules } from './connectors/registry.js';
import { loadConfigFile } from './config/load.js';
import { readAdminSecret } from './config/secrets.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { openStore } from './store/index.js';
import { checkMasterKey, loadMasterKey } from './vault/master-key.js';
import { createVault } from './vault/vault.js';
import { createLogNotifier } from './notify.js';

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
  /** Overrides of the config's broker settings (tests). */
  revokeRetry?: { initialMs: number; maxMs: number };
}

export interface App {
  api: FastifyInstance;
  store: Store;
  catalog: Catalog;
  requests: RequestService;
  grants: GrantService;
  tokens: TokenService;
  worker: ExpiryWorker;
  connectors: ConnectorRegistry;
  /** Written on first start only; undefined afterwards. */
  initialAdminToken: string | undefined;
  listen(host: string, port: number): Promise<string>;
  close(): Promise<void>;
}

export async function createApp(opts: AppOptions): Promise<App> {
  const env = opts.env ?? process.env;
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? createLogger();
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });

  const config = await loadConfigFile(opts.configPath);
  const catalog = config.catalog;
  const getCatalog = () => catalog;

  const masterKey = await loadMasterKey({ env, dataDir: opts.dataDir });
  const vault = createVault(masterKey.key);
  const storeUrl = opts.storeUrl ?? env.STINT_STORE_URL;
  const store = await openStore(
    storeUrl && /^postgres(ql)?:\/\//.test(storeUrl)
      ? { kind: 'postgres', connectionString: storeUrl }
      : { kind: 'sqlite', path: storeUrl ?? join(opts.dataDir, 'stint.db') },
  );
  const connectorsByTarget = new Map<string, Connector>();
  try {
    await checkMasterKey(store, vault, masterKey.source);
    for (const target of catalog.targets.values()) {
      const secret = await adminSecretFor(target, store, vault, env, clock, log);
      connectorsByTarget.set(target.name, connectorModules[target.kind].create({ target: target.name, settings: target.settings, adminUser: target.adminUser, adminSecret: secret }));
    }
  } catch (err) {
    await Promise.all([...connectorsByTarget.values()].map((c) => c.close().catch(() => {})));
    await store.close();
    throw err;
  }
  const connectors: ConnectorRegistry = {
    get(name) {
      const c = connectorsByTarget.get(name);
      if (!c) throw new Error(`target ${name} is not configured`);
      return c;
    },
  };

  const metrics = createMetrics({ store });
  const notifier: Notifier = createLogNotifier(log);
  let worker: ExpiryWorker | undefined;
  const grants = createGrantService({
    store, catalog: getCatalog, connectors, sealer: vault, clock, notifier, log, telemetry: metrics.telemetry,
    settings: {
      ...defaultGrantSettings,
      revokeRetryInitialMs: opts.revokeRetry?.initialMs ?? config.broker.revokeRetryInitialMs,
      revokeRetryMaxMs: opts.revokeRetry?.maxMs ?? config.broker.revokeRetryMaxMs,
      revokeConcurrency: config.broker.revokeConcurrency,
    },
    onScheduleChange: () => worker?.wake(),
    faults: faultsFromEnv(env.STINT_FAULTS),
  });
  const requests = createRequestService({
    store, catalog: getCatalog, grants, clock, notifier, log, telemetry: metrics.telemetry,
    settings: { pendingTimeoutMs: config.broker.pendingTimeoutMs },
  });
  const tokens = createTokenService({ store, catalog: getCatalog, clock });
  const audit = createAuditService({ store });
  worker = createExpiryWorker({ store, grants, requests, clock, log, maxSleepMs: opts.workerMaxSleepMs });

  const initialAdminToken = await ensureAdminToken(store, tokens, opts.dataDir);
  const api = await buildApi({ version, catalog: getCatalog, store, clock, connectors, requests, grants, tokens, audit, metrics }, { logger: log });

  // Work the previous run left unfinished: interrupted provisioning is rolled
  // back; expired and failing grants are picked up by the worker's first pass.
  const recovered = await grants.recoverInterrupted();
  if (recovered > 0) log.warn({ recovered }, 'rolled back grants whose provisioning was interrupted');
  worker.start();

  let closed = false;
  return {
    api, store, catalog, requests, grants, tokens, worker, connectors, initialAdminToken,
    async listen(host, port) {
      await api.listen({ host, port });
      const addr = api.server.address();
      const actualPort = typeof addr === 'object' && addr ? addr.port : port;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
      log.info({ url, store: store.dialect, targets: [...catalog.targets.keys()] }, 'stint broker listening');
      return url;
    },
    async close() {
      if (closed) return;
      closed = true;
      await worker!.stop();
      await api.close();
      await Promise.all([...connectorsByTarget.values()].map((c) => c.close().catch(() => {})));
      await store.close();
    },
  };
}

/**
 * The admin secret comes from the config's env var or file; it is kept sealed
 * in the store so a restart without the env var still works. It is never
 * logged or returned.
 */
async function adminSecretFor(target: TargetDef, store: Store, vault: ReturnType<typeof createVault>, env: NodeJS.ProcessEnv, clock: Clock, log: PinoLogger): Promise<string> {
  const context = `target:${target.name}`;
  try {
    const secret = await readAdminSecret(target, env);
    await store.putTargetCredential(target.name, vault.seal(secret, context), clock.now());
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
