// SSH session gateway: a person runs plain `ssh -p PORT alice+web-1@stint`
// (or scp/sftp, or `ssh -J alice@stint:PORT web-1`) with a public key
// registered in Stint; Stint creates an ephemeral Unix account on the target
// through the ssh connector, logs in as it with a key derived from a secret
// only the broker holds, relays shell, exec, SFTP and the port forwarding the
// profile allows, records terminals as asciicast v2, and removes the account
// when the connection ends. See README.md beside this file.

import net from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ServerChannel } from 'ssh2';
import { invalid } from '../../core/errors.js';
import type { GrantService } from '../../core/grant/grant-service.js';
import { randomId } from '../../core/ids.js';
import type { Clock, Logger, Store } from '../../core/ports.js';
import type { RequestService } from '../../core/request/request-service.js';
import { safeErrorText } from '../../core/scrub.js';
import type { Catalog, UserDef } from '../../core/types.js';
import { fingerprintOf, privateKeyFromSecret } from '../../connectors/ssh/keys.js';
import { gatewayAlgorithms, targetConnectionAlgorithms, type AlgorithmLists } from '../../connectors/ssh/algorithms.js';
import { Refusal, admit, type Admission } from '../shared/admission.js';
import { createLeaseKeeper, defaultSessionLeaseMs } from '../shared/lease-keeper.js';
import type { AsciicastWriter } from './asciicast.js';
import { serveForward, serveSessionChannel, type SessionCtl, type Upstream } from './channels.js';
import { parseLoginName, printable, profileFromHost } from './login-name.js';
import { createSshSessionLog, type SshSessionLog, type SshSessionLogHandle } from './session-log.js';

export interface SshGatewayDeps {
  requests: Pick<RequestService, 'create'>;
  grants: Pick<GrantService, 'upstreamCredentials' | 'revoke' | 'get' | 'renewSessionLeases'>;
  catalog: () => Catalog;
  store: Pick<Store, 'appendAudit' | 'listGrants'>;
  clock: Clock;
  log: Logger;
  /** The gateway's own host key (PEM or OpenSSH private key). Clients pin it. */
  hostKey: string | Buffer;
  /**
   * The OpenSSH public key lines (`ssh-ed25519 AAAA…`) a Stint user
   * registered (`stint keys add`; the broker wires the key service here).
   * An unknown user or no keys is `[]`.
   */
  authorizedKeys: (user: string) => string[] | Promise<string[]>;
  listen: { host: string; port: number };
  /** JSON-lines session records and asciicast files (DATA_DIR/sessions). */
  sessionDir: string;
  /** Longest session-bound grant, whatever the profile allows. Default 8h. */
  maxSessionMs?: number;
  /** Session lease of session-bound grants (shared/lease-keeper.ts). Default 60s. */
  sessionLeaseMs?: number;
  /** Authentication must finish within this. Default 30s. */
  handshakeTimeoutMs?: number;
  /** Upstream login timeout. Default 15s. */
  upstreamTimeoutMs?: number;
  /** A client connection the gateway ended that is still open after this is destroyed. Default 5s. */
  endGraceMs?: number;
  /** Transport algorithms offered to clients (checked by the config schema). Default: curve25519, AEAD ciphers, ETM MACs, delayed zlib. */
  algorithms?: Partial<AlgorithmLists>;
}

export interface SshGateway {
  listen(): Promise<{ host: string; port: number }>;
  readonly sessions: SshSessionLog;
  liveCount(): number;
  /** Stops accepting, ends every live session (revoking session-bound grants), waits for cleanup. */
  close(): Promise<void>;
}

const gatewayActor: UserDef = { name: 'stint', groups: [], accounts: {}, roles: ['admin'], admin: true };

interface LiveSession {
  end(reason: string): Promise<void>;
}

/** A connection forwarded through a jump login: the Stint user is already known; the destination host names the profile. */
interface Jump {
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

/** Failed public-key attempts one connection may make (OpenSSH's MaxAuthTries); then it is closed. */
export const maxAuthTries = 6;
/** Session channels, or jumps, open at once on one connection (OpenSSH's MaxSessions); more are refused. */
export const maxChannelsPerConnection = 10;

const gatewayKind = { targetKind: 'ssh', label: 'SSH', howToName: 'log in as <user>+<profile>, or ssh -J <user>@gateway <profile>' } as const;

export function createSshGateway(deps: SshGatewayDeps): SshGateway {
  const { log, clock } = deps;
  const maxSessionMs = deps.maxSessionMs ?? 8 * 3600_000;
  const handshakeTimeoutMs = deps.handshakeTimeoutMs ?? 30_000;
  const upstreamTimeoutMs = deps.upstreamTimeoutMs ?? 15_000;
  const endGraceMs = deps.endGraceMs ?? 5_000;
  const sessionLeaseMs = deps.sessionLeaseMs ?? defaultSessionLeaseMs;
  const leases = createLeaseKeeper({ grants: deps.grants, log, leaseMs: sessionLeaseMs, gateway: 'ssh' });
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
  const sessions = createSshSessionLog({ dir: deps.sessionDir });
  const live = new Set<LiveSession>();
  const conns = new Set<Connection>();
  let closing = false;

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

  /** Takes one SSH connection (a TCP client, or a channel forwarded through a jump login) into `handle`. */
  const accepting = (jump: Jump | null) => (conn: Connection, info: { ip?: string; port?: number }) => {
    // First: a connection turned away below can still fail, and an 'error' nobody listens for ends the process.
    conn.on('error', (err: Error) => log.debug({ error: safeErrorText(err) }, 'ssh gateway: client connection error'));
    if (closing) {
      endConnection(conn);
      return;
    }
    conns.add(conn);
    // ssh2 leaves Nagle on: a relay's small packets (window adjusts, SFTP
    // status replies, the tail of a split write) would wait for ACKs.
    // (ssh2's Connection has setNoDelay; its type definitions omit it.)
    (conn as Connection & { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    conn.on('close', () => conns.delete(conn));
    handle(conn, jump ? jump.peer : `${info.ip}:${info.port}`, jump);
  };
  const server = new ssh2.Server(serverConfig, accepting(null));

  /** The session is over: a session-bound grant goes with it. */
  async function endGrant(a: Admission): Promise<void> {
    if (a.kind !== 'session-bound') return;
    const grantId = a.grant.id;
    try {
      await deps.grants.revoke({ grantId, actor: gatewayActor, reason: 'session-ended' });
    } catch (err) {
      // The expiry worker retries whatever is left (the grant is revoking, or its lease lapses).
      log.error({ grantId, error: safeErrorText(err) }, 'ssh gateway: revoking the session grant failed');
    } finally {
      leases.release(grantId);
    }
  }

  async function keyMatches(userName: string, ctx: Extract<AuthContext, { method: 'publickey' }>): Promise<ssh2.ParsedKey | null> {
    let lines: string[];
    try {
      lines = await deps.authorizedKeys(userName);
    } catch (err) {
      log.error({ user: userName, error: safeErrorText(err) }, 'ssh gateway: could not read the registered keys');
      return null;
    }
    for (const line of lines) {
      const k = ssh2.utils.parseKey(line.trim());
      const key = Array.isArray(k) ? k[0] : k;
      if (!key || key instanceof Error) continue;
      if (key.getPublicSSH().equals(ctx.key.data)) return key;
    }
    return null;
  }

  function handle(conn: Connection, peer: string, jump: Jump | null): void {
    let user: UserDef | null = null;
    let profileName: string | null = null;
    let clientKey = '';
    const authTimer = setTimeout(() => endConnection(conn), handshakeTimeoutMs);
    authTimer.unref();
    void jump?.gone.then(() => endConnection(conn));

    let authFailures = 0;
    const refuse = (ctx: AuthContext) => {
      if (++authFailures < maxAuthTries) return ctx.reject(['publickey']);
      log.warn({ client: peer, login: printable(ctx.username) }, `ssh gateway: ${maxAuthTries} failed authentication attempts; connection closed`);
      ctx.reject();
      endConnection(conn);
    };
    conn.on('authentication', (ctx: AuthContext) => {
      void (async () => {
        if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
        // Through a jump login the person is known already; the key must be theirs again (the login name is ignored).
        const parsed = jump ? { user: jump.user.name, profile: jump.profile } : parseLoginName(ctx.username);
        if ('error' in parsed) {
          log.warn({ login: printable(ctx.username), client: peer, reason: parsed.error }, 'ssh gateway: authentication failed');
          return refuse(ctx);
        }
        const u = deps.catalog().users.get(parsed.user);
        const key = u ? await keyMatches(u.name, ctx) : null;
        if (!u || !key) {
          if (ctx.signature) log.warn({ user: parsed.user, profile: parsed.profile, client: peer }, 'ssh gateway: authentication failed (no such user or key not registered)');
          return refuse(ctx);
        }
        // Without a signature the client only asks whether the key would do.
        if (!ctx.signature || !ctx.blob) return ctx.accept();
        if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
          log.warn({ user: u.name, client: peer }, 'ssh gateway: bad public key signature');
          return refuse(ctx);
        }
        user = u;
        profileName = parsed.profile;
        clientKey = fingerprintOf(ctx.key.data);
        ctx.accept();
      })().catch((err) => {
        log.error({ error: safeErrorText(err) }, 'ssh gateway: authentication failed with an error');
        ctx.reject();
      });
    });

    conn.on('ready', () => {
      clearTimeout(authTimer);
      if (!user) return endConnection(conn);
      if (profileName === null) return jumpHost(conn, peer, user);
      const session = startSession(conn, peer, user, profileName, clientKey, jump ? 'jump' : 'login', jump?.gone);
      // Channels may be asked for before the account exists: they wait for it.
      let open = 0;
      conn.on('session', (accept, reject) => {
        if (open >= maxChannelsPerConnection) return reject();
        open++;
        const ch = accept();
        ch.once('close', () => open--);
        serveSessionChannel(ch, session.upstream, session, clock);
      });
      conn.on('tcpip', (accept, reject, info) => serveForward(accept, reject, info, session, clock, log));
      // Remote forwarding (tcpip-forward), streamlocal and the like: refused.
      conn.on('request', (_accept, reject) => reject?.());
    });
  }

  /**
   * A jump login (`ssh -J alice@gateway web-1-deploy`): no session of its
   * own. Each forwarded connection names a profile by its destination host
   * and is a second SSH connection that ends here, in this gateway: the client
   * authenticates again with the same person's key, and the profile's account
   * is made for it as for `alice+web-1-deploy`. The destination port is not
   * used (the profile's target decides where the account is).
   */
  function jumpHost(conn: Connection, peer: string, user: UserDef): void {
    const outerGone = new Promise<void>((resolve) => conn.once('close', () => resolve()));
    let open = 0;
    conn.on('tcpip', (accept, reject, info) => {
      const profile = profileFromHost(info.destIP);
      if (!profile) {
        log.warn({ user: user.name, client: peer, destination: printable(info.destIP) }, 'ssh gateway: jump to something that is not a profile name');
        return reject();
      }
      // Each jump is a login of its own (and an account on the target).
      if (open >= maxChannelsPerConnection) return reject();
      open++;
      const channel = accept();
      // EOF counts: an SSH connection cannot go on once its byte stream has ended, and a jump client
      // that died (its orphaned ssh -W sees stdin close) sends EOF but never closes the channel.
      const channelGone = new Promise<void>((resolve) => {
        channel.once('close', () => resolve());
        channel.once('end', () => resolve());
      });
      void channelGone.then(() => open--);
      const inner = new ssh2.Server(serverConfig, accepting({ user, profile, peer, gone: Promise.race([outerGone, channelGone]) }));
      inner.injectSocket(channel as unknown as net.Socket);
    });
    conn.on('session', (accept) => {
      const ch = accept();
      const refuse = (acc: (() => ServerChannel) | undefined) => {
        const c = acc?.();
        if (!c) return;
        c.stderr.write(`stint: ${user.name} without a profile only jumps: ssh -J ${user.name}@<gateway> <profile>, or log in as ${user.name}+<profile>\r\n`);
        c.exit(1);
        c.end();
      };
      ch.on('pty', (a) => a?.());
      ch.on('env', (a) => a?.());
      ch.on('shell', (a) => refuse(a));
      ch.on('exec', (a) => refuse(a));
      ch.on('subsystem', (a) => refuse(a));
    });
    conn.on('request', (_accept, reject) => reject?.());
  }


  function startSession(conn: Connection, peer: string, user: UserDef, profileName: string, clientKey: string, via: 'login' | 'jump', gone?: Promise<void>): SessionCtl {
    let refusal = 'the session could not be opened';
    let channelNo = 0;
    let ended: Promise<void> | null = null;
    let expiryTimer: NodeJS.Timeout | null = null;
    let up: Upstream | null = null;
    let upstreamClient: ssh2.Client | null = null;
    const casts = new Set<AsciicastWriter>();
    const startedAt = clock.now();
    let clientGone = false;

    const liveSession: LiveSession = {
      end(reason) {
        ended ??= finish(reason);
        return ended;
      },
    };

    async function finish(reason: string): Promise<void> {
      if (expiryTimer) clearTimeout(expiryTimer);
      upstreamClient?.end();
      endConnection(conn);
      await Promise.all([...casts].map((c) => c.close()));
      // The client may leave while its account is still being made: wait for that, so the grant goes too.
      // (open() sees clientGone and hands back null after cleaning up itself when it had not got that far.)
      await upstream;
      upstreamClient?.end();
      if (!up) {
        live.delete(liveSession);
        return;
      }
      const { admission, record, sessionId } = up;
      const grant = admission.grant;
      await endGrant(admission);
      const at = clock.now();
      try {
        await record.end({ at, reason });
        await deps.store.appendAudit({
          at, actor: 'stint', action: 'session.ended', requestId: grant.requestId, grantId: grant.id, target: grant.target, subjectUser: user.name,
          details: { sessionId, gateway: 'ssh', via, account: grant.account, reason, channels: record.record.channels.length, durationMs: at - startedAt },
        });
      } catch (err) {
        log.error({ sessionId, error: safeErrorText(err) }, 'ssh gateway: could not finish the session record');
      }
      live.delete(liveSession);
      log.info({ sessionId, user: user.name, grantId: grant.id, account: grant.account, reason }, 'ssh gateway: session ended');
    }

    // Listed from the start, so close() waits for a session still being opened and ends it too.
    live.add(liveSession);
    let upstreamGone = false;
    const clientLeft = () => {
      clientGone = true;
      void liveSession.end('client-disconnected');
    };
    conn.on('close', clientLeft);
    void gone?.then(clientLeft);

    async function open(): Promise<Upstream | null> {
      let admission: Admission;
      try {
        admission = await admit({ ...deps, maxSessionMs, sessionLeaseMs }, gatewayKind, user, profileName);
      } catch (err) {
        const r = err instanceof Refusal ? err : new Refusal('internal', 'internal error');
        refusal = r.message;
        log.warn({ user: user.name, profile: profileName, client: peer, reason: r.message }, 'ssh gateway: session refused');
        return null;
      }
      const grant = admission.grant;
      if (clientGone) {
        await endGrant(admission);
        return null;
      }
      const c = admission.credentials;
      const pinned = String(c.connection.hostKeySha256 ?? '');
      const client = new ssh2.Client();
      upstreamClient = client;
      try {
        if (!c.password) throw new Error('the grant has no secret to log in with');
        const privateKey = privateKeyFromSecret(c.password);
        await new Promise<void>((resolve, reject) => {
          client.once('ready', () => resolve());
          client.once('error', reject);
          client.once('close', () => reject(new Error('the target closed the connection during login')));
          client.connect({
            host: String(c.connection.host), port: Number(c.connection.port), username: c.account, privateKey,
            readyTimeout: upstreamTimeoutMs, keepaliveInterval: 15_000,
            algorithms: targetConnectionAlgorithms(),
            hostVerifier: (key: Buffer) => fingerprintOf(key) === pinned,
          });
        });
        client.setNoDelay(true); // as the client side, above
        client.removeAllListeners('error');
        client.on('error', (err: Error) => log.debug({ grantId: grant.id, error: safeErrorText(err, [c.password]) }, 'ssh gateway: target connection error'));
        // Expiry or revoke: the connector kills the account's processes, so the target drops us. Listened
        // for from here: the target may go while the session record is still being opened.
        client.once('close', () => {
          upstreamGone = true;
          if (up) void upstreamClosed();
        });
      } catch (err) {
        client.end();
        refusal = `the target refused the session: ${safeErrorText(err, [c.password])}`;
        // The key is written where only a host set up as documented reads it; say so to the operator (not the person).
        const hint = (err as { level?: string }).level === 'client-authentication'
          ? "the target's sshd did not accept the account's key: it must read the marker group's keys from the ssh target's authorizedKeysDir (src/connectors/ssh/README.md, \"The host's sshd\"; stint reconcile checks it)"
          : undefined;
        log.error({ user: user.name, profile: profileName, grantId: grant.id, error: refusal, hint }, 'ssh gateway: login to the target failed');
        await endGrant(admission);
        return null;
      }

      const sessionId = `ses_${randomId(12)}`;
      let record: SshSessionLogHandle;
      try {
        record = await sessions.open({
          sessionId, user: user.name, profile: admission.profile.name, target: grant.target, grantId: grant.id, account: grant.account,
          grantKind: admission.kind, client: peer, clientKey, via, startedAt: new Date(startedAt).toISOString(),
        });
        await deps.store.appendAudit({
          at: clock.now(), actor: user.name, action: 'session.started', requestId: grant.requestId, grantId: grant.id, target: grant.target, subjectUser: user.name,
          details: { sessionId, gateway: 'ssh', via, account: grant.account, profile: admission.profile.name, grantKind: admission.kind, client: peer, clientKey },
        });
      } catch (err) {
        client.end();
        refusal = 'the gateway could not record the session; it was not opened';
        log.error({ sessionId, error: safeErrorText(err) }, 'ssh gateway: could not start the session record');
        await endGrant(admission);
        return null;
      }
      up = { client, admission, record, sessionId };
      // Held only once the session is live: if anything fails before, nothing renews the lease and it lapses.
      if (admission.kind === 'session-bound') leases.hold(grant.id);
      log.info({ sessionId, user: user.name, profile: admission.profile.name, grantId: grant.id, account: grant.account, client: peer, via }, 'ssh gateway: session started');

      armExpiry(grant.expiresAt);
      if (clientGone) void liveSession.end('client-disconnected');
      else if (upstreamGone) void upstreamClosed();
      return up;
    }

    async function upstreamClosed(): Promise<void> {
      let reason = 'target-closed';
      try {
        const g = await deps.grants.get(up!.admission.grant.id);
        if (g.status !== 'active') reason = `grant-${g.revokeReason ?? g.status}`;
      } catch {
        // keep the generic reason
      }
      await liveSession.end(reason);
    }

    function armExpiry(expiresAt: number | null): void {
      if (expiresAt === null || !up) return;
      const grantId = up.admission.grant.id;
      const delay = Math.min(Math.max(0, expiresAt - clock.now()), 2 ** 31 - 1);
      expiryTimer = setTimeout(() => {
        void (async () => {
          const g = await deps.grants.get(grantId).catch(() => null);
          if (g && g.status === 'active' && g.expiresAt !== null && g.expiresAt > clock.now()) return armExpiry(g.expiresAt);
          await liveSession.end('grant-expired');
        })();
      }, delay + 250);
      expiryTimer.unref();
    }

    const upstream = open();
    // A refused session still lets the client open one channel to read why; then it is closed.
    void upstream.then((u) => {
      if (!u) setTimeout(() => endConnection(conn), 10_000).unref();
    });
    return {
      upstream,
      refusal: () => refusal,
      nextChannel: () => ++channelNo,
      casts,
    };
  }

  return {
    sessions,
    liveCount: () => live.size,
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.listen.port, deps.listen.host, () => {
          server.off('error', reject);
          // Listening, a server still emits 'error' (a failed accept): logged, never thrown.
          server.on('error', (err: Error) => log.error({ error: safeErrorText(err) }, 'ssh gateway: listener error'));
          const a = server.address() as net.AddressInfo;
          log.info({ host: a.address, port: a.port }, 'ssh gateway listening');
          resolve({ host: a.address, port: a.port });
        });
      });
    },
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...live].map((s) => s.end('gateway-shutdown')));
      for (const c of conns) endConnection(c);
      leases.stop();
      await stopped;
    },
  };
}
