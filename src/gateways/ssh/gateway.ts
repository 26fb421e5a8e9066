// SSH session gateway: a person runs plain `ssh -p PORT alice+web-1@stint`
// (or scp/sftp, or `ssh -J alice@stint:PORT web-1`) with a public key
// registered in Stint; Stint creates an ephemeral Unix account on the target
// through the ssh connector, logs in as it with a key derived from a secret
// only the broker holds, relays shell, exec, SFTP and the port forwarding the
// profile allows, records terminals as asciicast v2, and removes the account
// when the connection ends. See README.md beside this file.
//
// This file composes the parts: handshake.ts (authentication), jump.ts,
// relay.ts (the session), upstream.ts (the target login), channels.ts, and
// the lifecycle both gateways share (../shared/: listener, session keeper).

import ssh2 from 'ssh2';
import type { Connection } from 'ssh2';
import { invalid } from '../../core/errors.js';
import { safeErrorText } from '../../core/scrub.js';
import { gatewayAlgorithms } from '../../connectors/ssh/algorithms.js';
import { gatewaySettings } from '../shared/deps.js';
import { createGatewayListener } from '../shared/listener.js';
import { createSessionKeeper } from '../shared/session-keeper.js';
import type { Jump, SshContext, SshGatewayDeps } from './context.js';
import { handshake } from './handshake.js';
import { createSshSessionLog, type SshSessionLog } from './session-log.js';

export type { SshGatewayDeps } from './context.js';
export { maxChannelsPerConnection } from './context.js';
export { maxAuthTries } from './handshake.js';

export interface SshGateway {
  listen(): Promise<{ host: string; port: number }>;
  readonly sessions: SshSessionLog;
  liveCount(): number;
  /** Stops accepting, ends every live session (revoking session-bound grants), waits for cleanup. */
  close(): Promise<void>;
}

export function createSshGateway(deps: SshGatewayDeps): SshGateway {
  const { log } = deps;
  const settings = gatewaySettings(deps, { handshakeTimeoutMs: 30_000 });
  const endGraceMs = deps.endGraceMs ?? 5_000;
  const parsedHostKey = ssh2.utils.parseKey(deps.hostKey);
  const hostKeyParsed = Array.isArray(parsedHostKey) ? parsedHostKey[0] : parsedHostKey;
  if (!hostKeyParsed || hostKeyParsed instanceof Error || !hostKeyParsed.isPrivateKey()) {
    throw invalid('ssh gateway: hostKey must be an unencrypted private key (PEM or OpenSSH)');
  }
  // ssh2 offers every RSA host key as ssh-rsa (SHA-1) too, whatever serverHostKey says, and ECDSA keys use NIST curves.
  if (hostKeyParsed.type !== 'ssh-ed25519') throw invalid(`ssh gateway: hostKey must be an Ed25519 key, not ${hostKeyParsed.type}`);
  const algos = gatewayAlgorithms(deps.algorithms);
  const serverConfig = {
    hostKeys: [deps.hostKey],
    ident: 'Stint',
    algorithms: { kex: algos.kex, cipher: algos.cipher, hmac: algos.mac, compress: algos.compress, serverHostKey: ['ssh-ed25519'] },
  } as ssh2.ServerConfig;

  /**
   * Ends a client connection. ssh2's end() only sends a disconnect and half-
   * closes: a client that never reads nor closes would hold its socket (and
   * close(), which waits for every connection) for ever, so what is still
   * open after the grace period is destroyed.
   */
  function endConnection(conn: Connection): void {
    conn.end();
    const sock = (conn as Connection & { _sock?: { destroyed?: boolean; destroy(): void } })._sock;
    if (sock && !sock.destroyed) setTimeout(() => sock.destroyed || sock.destroy(), endGraceMs).unref();
  }

  /** Takes one SSH connection (a TCP client, or a channel forwarded through a jump login) into the handshake. */
  const accept = (jump: Jump | null) => (conn: Connection, info: { ip?: string; port?: number }) => {
    // First: a connection turned away below can still fail, and an 'error' nobody listens for ends the process.
    conn.on('error', (err: Error) => log.debug({ error: safeErrorText(err) }, 'ssh gateway: client connection error'));
    if (!listener.accept(conn)) return;
    // ssh2 leaves Nagle on: a relay's small packets (window adjusts, SFTP
    // status replies, the tail of a split write) would wait for ACKs.
    // (ssh2's Connection has setNoDelay; its type definitions omit it.)
    (conn as Connection & { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    conn.on('close', () => listener.release(conn));
    handshake(ctx, conn, jump ? jump.peer : `${info.ip}:${info.port}`, jump);
  };
  const server = new ssh2.Server(serverConfig, accept(null));
  const listener = createGatewayListener<Connection>({
    gateway: 'ssh',
    server,
    listen: deps.listen,
    log,
    handshakeTimeoutMs: settings.handshakeTimeoutMs,
    closeTimeoutMs: settings.closeTimeoutMs,
    drop: endConnection,
  });
  const ctx: SshContext = {
    deps,
    settings,
    listener,
    serverConfig,
    accept,
    endConnection,
    keeper: createSessionKeeper({ gateway: 'ssh', grants: deps.grants, store: deps.store, clock: deps.clock, log, sessionLeaseMs: settings.sessionLeaseMs }),
    sessions: createSshSessionLog({
      dir: deps.sessionDir,
      copy: deps.recordingStore ? { store: deps.recordingStore, log: deps.log, now: () => deps.clock.now() } : undefined,
    }),
  };

  return {
    sessions: ctx.sessions,
    liveCount: () => ctx.keeper.liveCount(),
    listen: () => listener.listen(),
    async close() {
      await listener.close(() => ctx.keeper.endAll('gateway-shutdown'));
      ctx.keeper.stop();
    },
  };
}
