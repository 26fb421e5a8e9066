// What every session gateway is built from (the broker's services, where to
// listen and record) and the limits common to both, with their defaults.
// Each gateway adds its own (TLS and tokens for PostgreSQL; host key and
// registered keys for SSH).

import type { GrantService } from '../../core/grant/grant-service.js';
import type { Clock, Logger, Store } from '../../core/ports.js';
import type { RequestService } from '../../core/request/request-service.js';
import type { Catalog } from '../../core/types.js';
import { defaultSessionLeaseMs } from './lease-keeper.js';
import type { RecordingStore } from './recording-copy.js';

export type GatewayName = 'postgres' | 'ssh';

export interface GatewayDeps {
  requests: Pick<RequestService, 'create'>;
  grants: Pick<GrantService, 'upstreamCredentials' | 'revoke' | 'get' | 'renewSessionLeases'>;
  catalog: () => Catalog;
  store: Pick<Store, 'appendAudit' | 'listGrants'>;
  clock: Clock;
  log: Logger;
  listen: { host: string; port: number };
  /** Session records, one file per session (DATA_DIR/sessions). */
  sessionDir: string;
  /** Where a copy of each recording goes so every broker sharing the store can read it (the broker's store). */
  recordingStore?: RecordingStore;
  /** Longest session-bound grant, whatever the profile allows. Default 8h. */
  maxSessionMs?: number;
  /** Session lease of session-bound grants (shared/lease-keeper.ts). Default 60s. */
  sessionLeaseMs?: number;
  /**
   * The client's part of the handshake (PostgreSQL: TLS, startup packet,
   * password; SSH: authentication) must finish within this, or the connection
   * is closed. Default 10s (PostgreSQL), 30s (SSH).
   */
  handshakeTimeoutMs?: number;
  /**
   * close() waits at most this long for logins under way to finish their
   * target work (a grant being made is then revoked by its own session end,
   * or by its lease lapsing if the broker goes first). Default 30s.
   */
  closeTimeoutMs?: number;
  /** Upstream login timeout. Default 15s. */
  upstreamTimeoutMs?: number;
}

export interface GatewaySettings {
  maxSessionMs: number;
  sessionLeaseMs: number;
  handshakeTimeoutMs: number;
  closeTimeoutMs: number;
  upstreamTimeoutMs: number;
}

/** The limits of `deps` with the defaults filled in (`handshakeTimeoutMs` differs by gateway). */
export function gatewaySettings(deps: GatewayDeps, defaults: { handshakeTimeoutMs: number }): GatewaySettings {
  return {
    maxSessionMs: deps.maxSessionMs ?? 8 * 3600_000,
    sessionLeaseMs: deps.sessionLeaseMs ?? defaultSessionLeaseMs,
    handshakeTimeoutMs: deps.handshakeTimeoutMs ?? defaults.handshakeTimeoutMs,
    closeTimeoutMs: deps.closeTimeoutMs ?? 30_000,
    upstreamTimeoutMs: deps.upstreamTimeoutMs ?? 15_000,
  };
}
