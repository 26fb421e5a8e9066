// What the SSH gateway's parts share: its dependencies and settings, the
// session bookkeeping and listener (shared/), the session records, the
// ssh2 server configuration, and how a client connection is ended.

import type ssh2 from 'ssh2';
import type { Connection } from 'ssh2';
import type { UserDef } from '../../core/types.js';
import type { AlgorithmLists } from '../../connectors/ssh/algorithms.js';
import type { GatewayDeps, GatewaySettings } from '../shared/deps.js';
import type { GatewayListener } from '../shared/listener.js';
import type { SessionKeeper } from '../shared/session-keeper.js';
import type { SshSessionLog } from './session-log.js';

export interface SshGatewayDeps extends GatewayDeps {
  /** The gateway's own host key (PEM or OpenSSH private key). Clients pin it. */
  hostKey: string | Buffer;
  /**
   * The OpenSSH public key lines (`ssh-ed25519 AAAA…`) a Stint user
   * registered (`stint keys add`; the broker wires the key service here).
   * An unknown user or no keys is `[]`.
   */
  authorizedKeys: (user: string) => string[] | Promise<string[]>;
  /** A client connection the gateway ended that is still open after this is destroyed. Default 5s. */
  endGraceMs?: number;
  /** Transport algorithms offered to clients (checked by the config schema). Default: curve25519, AEAD ciphers, ETM MACs, delayed zlib. */
  algorithms?: Partial<AlgorithmLists>;
}

/** A connection forwarded through a jump login: the Stint user is already known; the destination host names the profile. */
export interface Jump {
  user: UserDef;
  profile: string;
  /** The outer connection's peer, for the records. */
  peer: string;
  /**
   * Settles when the forwarded channel or the whole outer connection is gone.
   * The inner SSH connection runs over that channel and does not always see it
   * go (a SIGKILLed client, a dropped network): this ends it.
   */
  gone: Promise<void>;
}

/** Session channels, or jumps, open at once on one connection (OpenSSH's MaxSessions); more are refused. */
export const maxChannelsPerConnection = 10;

export interface SshContext {
  deps: SshGatewayDeps;
  settings: GatewaySettings;
  keeper: SessionKeeper<never>;
  listener: GatewayListener<Connection>;
  sessions: SshSessionLog;
  serverConfig: ssh2.ServerConfig;
  /** Takes one SSH connection (a TCP client, or a channel forwarded through a jump login) into the gateway. */
  accept: (jump: Jump | null) => (conn: Connection, info: { ip?: string; port?: number }) => void;
  /** Ends a client connection, destroying it if it is still open after the grace period. */
  endConnection(conn: Connection): void;
}
