// What the PostgreSQL gateway's parts share: its dependencies and settings,
// the session bookkeeping and listener (shared/), the session records, the
// cancel keys, and how a client is turned away.

import type net from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { TokenService } from '../../core/tokens/token-service.js';
import type { GatewayDeps, GatewaySettings } from '../shared/deps.js';
import type { GatewayListener } from '../shared/listener.js';
import type { SessionKeeper } from '../shared/session-keeper.js';
import type { Admission } from '../shared/admission.js';
import type { CancelKeys } from './cancel-keys.js';
import { errorResponse } from './frames.js';
import type { SessionLog } from './session-log.js';
import type { TlsMinVersion } from './tls-settings.js';

export interface PostgresGatewayDeps extends GatewayDeps {
  tokens: Pick<TokenService, 'authenticateGateway'>;
  /** PEM certificate and key clients see; null only with requireTls false (tests on loopback). minVersion defaults to TLSv1.2. */
  tls: { cert: string | Buffer; key: string | Buffer; minVersion?: TlsMinVersion } | null;
  /** Refuse clients that do not negotiate TLS. false is accepted only on a loopback listener. */
  requireTls: boolean;
}

/** What a session tells its client as the gateway ends it: a FATAL with this SQLSTATE and message. */
export interface Notice {
  code: string;
  message: string;
}

export interface PostgresContext {
  deps: PostgresGatewayDeps;
  settings: GatewaySettings;
  secureContext: tls.SecureContext | null;
  keeper: SessionKeeper<Notice>;
  listener: GatewayListener<net.Socket>;
  sessions: SessionLog;
  cancelKeys: CancelKeys;
}

/** Ends a connection with a FATAL error; destroyed a moment later if the client does not close it. */
export function fatal(client: Duplex, code: string, message: string): void {
  client.end(errorResponse('FATAL', code, message));
  setTimeout(() => client.destroy(), 1000).unref();
}

/** TLS to the target when the target says sslmode=require. */
export function upstreamSsl(a: Admission): boolean {
  return a.target.settings.sslmode === 'require';
}
