// PostgreSQL session gateway: clients connect to Stint with plain psql (user =
// Stint user, dbname = profile, password = Stint token); Stint creates an
// ephemeral role for exactly this connection, logs in upstream as it with a
// secret only Stint knows, relays the session frame by frame while recording
// every statement, and removes the role when the connection closes. See
// README.md beside this file.
//
// This file composes the parts: handshake.ts (TLS, startup, token, admission,
// target login), relay.ts (the live session), cancel-keys.ts, and the
// lifecycle both gateways share (../shared/: listener, session keeper).

import net from 'node:net';
import { invalid } from '../../core/errors.js';
import { safeErrorText } from '../../core/scrub.js';
import { gatewaySettings } from '../shared/deps.js';
import { createGatewayListener } from '../shared/listener.js';
import { createSessionKeeper } from '../shared/session-keeper.js';
import { createCancelKeys } from './cancel-keys.js';
import type { Notice, PostgresContext, PostgresGatewayDeps } from './context.js';
import { ClientGone, handshake } from './handshake.js';
import { relay } from './relay.js';
import { createSessionLog, type SessionLog } from './session-log.js';
import { gatewaySecureContext } from './tls-settings.js';

export type { PostgresGatewayDeps } from './context.js';
export { MAX_CHECKED_SQL } from './relay.js';

export interface PostgresGateway {
  /** Starts listening; returns the bound address (port 0 picks a free one). */
  listen(): Promise<{ host: string; port: number }>;
  /** Live and recent sessions (the files hold everything). */
  readonly sessions: SessionLog;
  /** Sessions open right now. */
  liveCount(): number;
  /** Connections accepted and not yet closed, and handshakes under way (tests, metrics). */
  pending(): { sockets: number; handshakes: number };
  /**
   * Stops accepting, destroys every connection still in its handshake, ends
   * every live session (revoking session-bound grants), and waits for cleanup
   * — at most closeTimeoutMs for logins whose target work is under way.
   */
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const shutdownNotice: Notice = { code: '57P01', message: 'terminating connection: the Stint gateway is shutting down' };

export function createPostgresGateway(deps: PostgresGatewayDeps): PostgresGateway {
  const { log } = deps;
  if (deps.requireTls && !deps.tls) throw invalid('postgres gateway: requireTls needs a certificate and key');
  // The token travels as a cleartext password; without TLS only a loopback listener may carry it.
  if (!deps.requireTls && !isLoopback(deps.listen.host))
    throw invalid(`postgres gateway: requireTls may be turned off only on a loopback listener, not ${deps.listen.host}`);
  const secureContext = deps.tls ? gatewaySecureContext(deps.tls) : null;
  const settings = gatewaySettings(deps, { handshakeTimeoutMs: 10_000 });
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    if (!listener.accept(socket)) return;
    socket.on('close', () => listener.release(socket));
    // close() waits for handshakes under way, so a grant being made for one is not left behind.
    listener.track(
      handshake(ctx, socket)
        .then((login) => login && relay(ctx, login))
        .catch((err) => {
          // A TLS alert, a reset, a deadline: the client's doing, not a fault of the broker; at debug, since
          // anyone who can reach the port can make any number of them.
          if (err instanceof ClientGone)
            log.debug(
              { client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, error: err.message },
              'postgres gateway: connection dropped during the handshake',
            );
          else log.error({ error: safeErrorText(err) }, 'postgres gateway: connection failed');
          socket.destroy();
        }),
    );
  });
  const listener = createGatewayListener<net.Socket>({
    gateway: 'postgres',
    server,
    listen: deps.listen,
    log,
    handshakeTimeoutMs: settings.handshakeTimeoutMs,
    closeTimeoutMs: settings.closeTimeoutMs,
    drop: (s) => s.destroy(),
    describe: () => ({ tls: !!secureContext, requireTls: deps.requireTls }),
  });
  const ctx: PostgresContext = {
    deps,
    settings,
    secureContext,
    listener,
    keeper: createSessionKeeper<Notice>({
      gateway: 'postgres',
      grants: deps.grants,
      store: deps.store,
      clock: deps.clock,
      log,
      sessionLeaseMs: settings.sessionLeaseMs,
    }),
    sessions: createSessionLog({
      dir: deps.sessionDir,
      copy: deps.recordingStore ? { store: deps.recordingStore, log: deps.log, now: () => deps.clock.now() } : undefined,
    }),
    cancelKeys: createCancelKeys(),
  };

  return {
    sessions: ctx.sessions,
    liveCount: () => ctx.keeper.liveCount(),
    listen: () => listener.listen(),
    pending: () => listener.pending(),
    async close() {
      await listener.close((first) => ctx.keeper.endAll('gateway-shutdown', first ? shutdownNotice : undefined));
      ctx.keeper.stop();
    },
  };
}
