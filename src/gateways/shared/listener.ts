// A gateway's listening side, the same for both: the connections it holds,
// the deadline on each client's part of the handshake, the logins under way
// (admission, target login) that close() waits for within a bound, and the
// order of a shutdown: stop accepting, drop the handshakes nobody waits on,
// end the live sessions (revoking their session-bound grants), drop what is
// left, wait for logins under way, end the sessions they opened meanwhile.

import type net from 'node:net';
import type { Logger } from '../../core/ports.js';
import { safeErrorText } from '../../core/scrub.js';
import { settleWithin } from '../../core/settle-within.js';
import type { GatewayName } from './deps.js';

/** What both net.Server and ssh2's Server offer. */
export interface ListeningServer {
  listen(port: number, host: string, cb: () => void): unknown;
  address(): net.AddressInfo | string | null;
  close(cb: () => void): unknown;
  once(event: 'error', cb: (err: Error) => void): unknown;
  on(event: 'error', cb: (err: Error) => void): unknown;
  off(event: 'error', cb: (err: Error) => void): unknown;
}

/** The client's part of one handshake, under its deadline. */
export interface Handshake {
  /** The client's part is over: the deadline no longer applies and close() no longer drops it first. */
  done(): void;
  /** Whether the deadline passed (and the connection was dropped). */
  readonly timedOut: boolean;
}

export interface GatewayListener<C> {
  /** close() has begun: new connections are dropped. */
  readonly closing: boolean;
  /** Holds a new connection until `release`; false (and it is dropped) once close() has begun. */
  accept(c: C): boolean;
  release(c: C): void;
  /** Starts the deadline on the client's part of the handshake: `kill` ends it (default: drop the connection). */
  handshake(c: C, kill?: () => void, onTimeout?: () => void): Handshake;
  /** Work for a connection before its session is live: close() waits for it, within closeTimeoutMs. */
  track(work: Promise<unknown>): void;
  /** Connections held and logins under way (tests, metrics). */
  pending(): { sockets: number; handshakes: number };
  listen(): Promise<{ host: string; port: number }>;
  /** The shutdown order above; `endSessions` ends the live sessions (called before and after the wait). */
  close(endSessions: (first: boolean) => Promise<void>): Promise<void>;
}

export interface ListenerDeps<C> {
  gateway: GatewayName;
  server: ListeningServer;
  listen: { host: string; port: number };
  log: Logger;
  handshakeTimeoutMs: number;
  closeTimeoutMs: number;
  /** Ends one connection at once. */
  drop(c: C): void;
  /** Added to the "listening" log line. */
  describe?: () => object;
}

export function createGatewayListener<C>(deps: ListenerDeps<C>): GatewayListener<C> {
  const { gateway, server, log } = deps;
  const connections = new Set<C>();
  const underWay = new Set<Promise<unknown>>();
  /** Connections in the client's part of the handshake → what ends them. */
  const inHandshake = new Map<C, () => void>();
  let closing = false;

  return {
    get closing() {
      return closing;
    },
    accept(c) {
      if (closing) {
        deps.drop(c);
        return false;
      }
      connections.add(c);
      return true;
    },
    release(c) {
      connections.delete(c);
      inHandshake.delete(c);
    },
    handshake(c, kill = () => deps.drop(c), onTimeout) {
      inHandshake.set(c, kill);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        onTimeout?.();
        kill();
      }, deps.handshakeTimeoutMs);
      timer.unref();
      return {
        done() {
          clearTimeout(timer);
          inHandshake.delete(c);
        },
        get timedOut() {
          return timedOut;
        },
      };
    },
    track(work) {
      const w = work.catch(() => {});
      underWay.add(w);
      void w.finally(() => underWay.delete(w));
    },
    pending: () => ({ sockets: connections.size, handshakes: underWay.size }),
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.listen.port, deps.listen.host, () => {
          server.off('error', reject);
          // Listening, a server still emits 'error' (a failed accept): logged, never thrown.
          server.on('error', (err: Error) => log.error({ error: safeErrorText(err) }, `${gateway} gateway: listener error`));
          const a = server.address() as net.AddressInfo;
          log.info({ host: a.address, port: a.port, ...deps.describe?.() }, `${gateway} gateway listening`);
          resolve({ host: a.address, port: a.port });
        });
      });
    },
    async close(endSessions) {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Clients still in their handshake (one that sent SSLRequest and went quiet, say) go first: nothing waits on them.
      for (const kill of inHandshake.values()) kill();
      await endSessions(true);
      for (const c of connections) deps.drop(c);
      // Logins past the client's part (admission, target login) finish their target work, within a bound.
      if (!(await settleWithin(Promise.all([...underWay]), deps.closeTimeoutMs))) {
        log.warn(
          { handshakes: underWay.size, timeoutMs: deps.closeTimeoutMs },
          `${gateway} gateway: logins still under way at shutdown; their grants end with their session leases`,
        );
      }
      await endSessions(false);
      await stopped;
    },
  };
}
