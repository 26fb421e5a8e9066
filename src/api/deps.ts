import type { CheckpointService } from '../core/audit/checkpoint-service.js';
import type { AuditService } from '../core/audit/audit-service.js';
import type { BrokerRegistry } from '../core/brokers/broker-registry.js';
import type { GrantService } from '../core/grant/grant-service.js';
import type { KeyService } from '../core/keys/key-service.js';
import type { Clock, ConnectorRegistry, Store, Telemetry } from '../core/ports.js';
import type { ReconcileService } from '../core/reconcile/reconcile-service.js';
import type { RequestService } from '../core/request/request-service.js';
import type { TokenService } from '../core/tokens/token-service.js';
import type { SignInService } from '../core/identity/signin-service.js';
import type { Catalog } from '../core/types.js';
import type { LiveSessionRecord } from './sessions-reader.js';

/** What the HTTP layer needs; built in app.ts. */
export interface ApiDeps {
  version: string;
  catalog: () => Catalog;
  store: Store;
  clock: Clock;
  connectors: ConnectorRegistry;
  requests: RequestService;
  grants: GrantService;
  tokens: TokenService;
  keys: KeyService;
  audit: AuditService;
  checkpoints: Pick<CheckpointService, 'checkpoint' | 'publicKey' | 'list'>;
  /** Optional until app.ts wires it; POST /v1/reconcile answers 503 without it. */
  reconcile?: Pick<ReconcileService, 'reconcile'>;
  metrics: { contentType: string; render(): Promise<string>; telemetry?: Pick<Telemetry, 'count'> };
  /** The config file the catalog came from (shown on the admin page). */
  configPath?: string;
  /** Built web UI; defaults to web/dist beside the sources. */
  webDir?: string;
  /** How often each /v1/events stream polls the store (default 1 s). */
  eventsPollMs?: number;
  /** Sign-ins: web and CLI, from the identity provider or a token. */
  signIns: SignInService;
  /** Gateway session recordings (DATA_DIR/sessions; layout in sessions-reader.ts). Without it GET /v1/sessions lists nothing. */
  sessionDir?: string;
  /** Sessions the running gateways hold in memory (open ones are told apart from ones a crash cut). */
  liveSessions?: () => Iterable<LiveSessionRecord>;
  /** What GET /v1/gateways answers (addresses as HOST:PORT). */
  gateways?: () => GatewaysInfo;
  /** The brokers sharing the store (GET /v1/brokers); 503 without it. */
  brokers?: Pick<BrokerRegistry, 'id' | 'list'>;
  /** /readyz: throws StintError('unavailable') saying why this broker should not take traffic now. */
  ready?: () => Promise<void>;
}

export interface GatewaysInfo {
  /** certificate: the PEM the gateway presents (public), so clients can verify it. */
  postgres: { listen: string; tls: boolean; requireTls: boolean; certificate: string | null } | null;
  ssh: { listen: string; hostKey: string; fingerprint: string } | null;
}
