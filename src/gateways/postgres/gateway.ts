// PostgreSQL session gateway: clients connect to Stint with plain psql (user =
// Stint user, dbname = profile, password = Stint token); Stint creates an
// ephemeral role for exactly this connection, logs in upstream as it with a
// secret only Stint knows, relays the session frame by frame while recording
// every statement, and removes the role when the connection closes. See
// README.md beside this file.

import net from 'node:net';
import tls from 'node:tls';
import { randomInt, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { invalid } from '../../core/errors.js';
import type { GrantService } from '../../core/grant/grant-service.js';
import { randomId } from '../../core/ids.js';
import type { Clock, Logger, Store } from '../../core/ports.js';
import type { RequestService } from '../../core/request/request-service.js';
import { safeErrorText } from '../../core/scrub.js';
import type { TokenService } from '../../core/tokens/token-service.js';
import type { Catalog, UserDef } from '../../core/types.js';
import { Refusal, admit, type Admission, type RefusalKind } from '../shared/admission.js';
import { createLeaseKeeper, defaultSessionLeaseMs } from '../shared/lease-keeper.js';
import {
  FrameScanner,
  MessageReader,
  PROTOCOL_3_0,
  ProtocolError,
  authenticationCleartextPassword,
  backendFrame,
  backendKeyData,
  errorResponse,
  parseParse,
  parseQuery,
  parseStartupPacket,
  readCString,
  type StartupPacket,
} from './frames.js';
import { createSessionLog, type SessionLog, type SessionLogHandle } from './session-log.js';
import { CLIENT_CAPTURE, SERVER_CAPTURE, StatementTracker } from './statement-tracker.js';
import { UpstreamError, cancelUpstream, connectUpstream, type Upstream } from './upstream.js';
import { gatewaySecureContext, type TlsMinVersion } from './tls-settings.js';
import { findCredentialChange } from './credential-guard.js';

export interface PostgresGatewayDeps {
  tokens: Pick<TokenService, 'authenticateGateway'>;
  requests: Pick<RequestService, 'create'>;
  grants: Pick<GrantService, 'upstreamCredentials' | 'revoke' | 'get' | 'renewSessionLeases'>;
  catalog: () => Catalog;
  store: Pick<Store, 'appendAudit' | 'listGrants'>;
  clock: Clock;
  log: Logger;
  /** Session lease of session-bound grants (shared/lease-keeper.ts). Default 60s. */
  sessionLeaseMs?: number;
  /** PEM certificate and key clients see; null only with requireTls false (tests on loopback). minVersion defaults to TLSv1.2. */
  tls: { cert: string | Buffer; key: string | Buffer; minVersion?: TlsMinVersion } | null;
  listen: { host: string; port: number };
  /** JSON-lines recordings, one file per session (DATA_DIR/sessions). */
  sessionDir: string;
  /** Refuse clients that do not negotiate TLS. false is accepted only on a loopback listener. */
  requireTls: boolean;
  /** Longest session-bound grant, whatever the profile allows. Default 8h. */
  maxSessionMs?: number;
  /**
   * The client's part of the handshake (TLS, startup packet, password) must
   * finish within this, or its socket is destroyed. Default 10s.
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

/** The broker acting on its own when a session ends. */
const gatewayActor: UserDef = { name: 'stint', groups: [], accounts: {}, roles: ['admin'], admin: true };

const MAX_PASSWORD_MESSAGE = 4096;

/** The SQLSTATE a client sees for each way a session can be refused. */
const refusalCodes: Record<RefusalKind, string> = {
  'unknown-profile': '3D000',
  'wrong-target-kind': '3D000',
  'own-account': '28000',
  denied: '42501',
  'needs-approval': '42501',
  unavailable: '57P03',
  refused: '28000',
  internal: 'XX000',
};

const gatewayKind = { targetKind: 'postgres', label: 'PostgreSQL', howToName: 'connect with dbname=<profile>' } as const;

/** The client went away, failed TLS or ran out of time during its handshake. */
class ClientGone extends Error {}

/** A statement the gateway does not relay: the session ends before it reaches the target. */
class StatementRefused extends Error {
  constructor(readonly kind: 'credential-change' | 'too-large', message: string, readonly statement?: string) {
    super(message);
  }
}

const QUERY = 0x51; // Q
const PARSE = 0x50; // P
/** Longest statement (Query or Parse) relayed: each is read whole and checked before its end is sent on. */
export const MAX_CHECKED_SQL = 16 * 1024 * 1024;

/**
 * Waits for the TLS handshake on `t` (over `raw`). Settles on every outcome:
 * done, a TLS error, or either layer closing (a client that read 'S' and left,
 * or was destroyed by the deadline or close()).
 */
function tlsHandshake(t: tls.TLSSocket, raw: net.Socket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const gone = () => done(new ClientGone('connection closed during the TLS handshake'));
    const failed = (err: Error) => done(new ClientGone(`TLS handshake failed: ${safeErrorText(err)}`));
    const ok = () => done(null);
    function done(err: Error | null): void {
      t.off('secure', ok);
      t.off('error', failed);
      t.off('close', gone);
      raw.off('close', gone);
      if (err) {
        // Errors after this one (a late alert) have a listener until the socket is gone.
        t.on('error', () => {});
        t.destroy();
        reject(err);
      } else resolve();
    }
    t.once('secure', ok);
    t.once('error', failed);
    t.once('close', gone);
    raw.once('close', gone);
    if (raw.destroyed || t.destroyed) gone();
  });
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

interface LiveSession {
  end(reason: string, notice?: { code: string; message: string }): Promise<void>;
}

export function createPostgresGateway(deps: PostgresGatewayDeps): PostgresGateway {
  const { log, clock } = deps;
  if (deps.requireTls && !deps.tls) throw invalid('postgres gateway: requireTls needs a certificate and key');
  // The token travels as a cleartext password; without TLS only a loopback listener may carry it.
  if (!deps.requireTls && !isLoopback(deps.listen.host)) throw invalid(`postgres gateway: requireTls may be turned off only on a loopback listener, not ${deps.listen.host}`);
  const secureContext = deps.tls ? gatewaySecureContext(deps.tls) : null;
  const maxSessionMs = deps.maxSessionMs ?? 8 * 3600_000;
  const handshakeTimeoutMs = deps.handshakeTimeoutMs ?? 10_000;
  const closeTimeoutMs = deps.closeTimeoutMs ?? 30_000;
  const upstreamTimeoutMs = deps.upstreamTimeoutMs ?? 15_000;
  const sessions = createSessionLog({ dir: deps.sessionDir });
  const sessionLeaseMs = deps.sessionLeaseMs ?? defaultSessionLeaseMs;
  const leases = createLeaseKeeper({ grants: deps.grants, log, leaseMs: sessionLeaseMs, gateway: 'postgres' });
  const live = new Set<LiveSession>();
  /** Gateway-issued cancel keys → the upstream backend they stand for. */
  const cancelKeys = new Map<number, { secretKey: number; host: string; port: number; ssl: boolean; processId: number; upstreamSecret: number }>();
  const sockets = new Set<net.Socket>();
  const handshakes = new Set<Promise<void>>();
  /** Connections in the client's part of the handshake → destroys them (raw socket and TLS layer). */
  const inHandshake = new Map<net.Socket, () => void>();
  let closing = false;

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (closing) {
      socket.destroy();
      return;
    }
    const h = handle(socket).catch((err) => {
      // A TLS alert, a reset, a deadline: the client's doing, not a fault of the broker; at debug, since
      // anyone who can reach the port can make any number of them.
      if (err instanceof ClientGone) log.debug({ client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, error: err.message }, 'postgres gateway: connection dropped during the handshake');
      else log.error({ error: safeErrorText(err) }, 'postgres gateway: connection failed');
      socket.destroy();
    })
      .finally(() => inHandshake.delete(socket));
    // close() waits for handshakes under way, so a grant being made for one is not left behind.
    handshakes.add(h);
    void h.finally(() => handshakes.delete(h));
  });

  function fatal(client: Duplex, code: string, message: string): void {
    client.end(errorResponse('FATAL', code, message));
    setTimeout(() => client.destroy(), 1000).unref();
  }

  async function handle(raw: net.Socket): Promise<void> {
    raw.setNoDelay(true);
    // A client that vanished (laptop asleep, NAT state gone) is found out, and its session and role end.
    raw.setKeepAlive(true, 15_000);
    const peer = `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`;
    let client: Duplex = raw;
    let reader = new MessageReader(raw);
    let secure = false;
    // Until the password has arrived the client holds the pace: close(), the
    // deadline and any error destroy both layers, and every wait below then ends.
    const kill = () => {
      client.destroy();
      raw.destroy();
    };
    inHandshake.set(raw, kill);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      log.debug({ client: peer, timeoutMs: handshakeTimeoutMs }, 'postgres gateway: handshake not finished in time; connection closed');
      kill();
    }, handshakeTimeoutMs);
    timer.unref();
    let startup: Extract<StartupPacket, { kind: 'startup' }>;
    let user: UserDef;
    let authVia: 'api-token' | 'connect-token';
    let admission: Admission;
    let upstream: Upstream;
    try {
      for (;;) {
        const pkt = parseStartupPacket(await reader.readUntyped());
        if (pkt.kind === 'ssl') {
          if (secure || !secureContext) {
            client.write('N');
            continue;
          }
          // Bytes sent before the TLS handshake would be trusted as if encrypted (CVE-2021-23214): refuse.
          if (reader.detach().length) throw new ProtocolError('data received after SSLRequest before the TLS handshake');
          raw.write('S');
          const t = new tls.TLSSocket(raw, { isServer: true, secureContext });
          client = t;
          await tlsHandshake(t, raw);
          // A renegotiation attempt ends the connection (OpenSSL refuses it anyway: SSL_OP_NO_RENEGOTIATION).
          t.disableRenegotiation();
          const tlsFailed = (err: Error) => {
            log.warn({ client: peer, error: safeErrorText(err) }, 'postgres gateway: TLS error after the handshake; connection closed');
            t.destroy();
          };
          t.on('error', tlsFailed);
          // A TLSSocket made outside a tls.Server reports errors after its handshake (renegotiation
          // refused, a peer's alert) only as '_tlsError': tls.Server turns them into 'error' for the
          // sockets it makes, and without this they went unseen (the "swallowed" renegotiation).
          t.on('_tlsError', tlsFailed);
          reader = new MessageReader(t);
          secure = true;
          continue;
        }
        if (pkt.kind === 'gssenc') {
          client.write('N');
          continue;
        }
        if (pkt.kind === 'cancel') {
          cancel(pkt.processId, pkt.secretKey);
          raw.destroy();
          return;
        }
        if (pkt.kind === 'unsupported') {
          fatal(client, '08P01', `unsupported frontend protocol ${pkt.code >>> 16}.${pkt.code & 0xffff}: the gateway speaks 3.0`);
          return;
        }
        startup = pkt;
        break;
      }
      if (deps.requireTls && !secure) {
        fatal(client, '28000', 'the Stint gateway accepts only TLS connections: connect with sslmode=require');
        return;
      }
      const name = startup.params.user ?? '';
      const profile = startup.params.database || name;
      if (!name) {
        fatal(client, '28000', 'no user name in the startup packet');
        return;
      }
      if (startup.version !== PROTOCOL_3_0) {
        // Newer minor versions: tell the client we speak 3.0 and ignore protocol options.
        const unknown = Object.keys(startup.params).filter((k) => k.startsWith('_pq_.'));
        const body = Buffer.alloc(8);
        body.writeInt32BE(PROTOCOL_3_0, 0);
        body.writeInt32BE(unknown.length, 4);
        client.write(backendFrame('v', Buffer.concat([body, ...unknown.map((k) => Buffer.from(`${k}\0`))])));
      }
      client.write(authenticationCleartextPassword());
      const msg = await reader.readTyped(MAX_PASSWORD_MESSAGE);
      if (msg.type !== 'p') throw new ProtocolError(`expected a password message, got ${JSON.stringify(msg.type)}`);
      // The client's part is done; what follows (token, admission, target login) has its own bounds.
      clearTimeout(timer);
      inHandshake.delete(raw);
      const token = readCString(msg.body, 0).value;
      const auth = await deps.tokens.authenticateGateway(token, profile);
      if (!auth || auth.user.name !== name) {
        log.warn({ user: name.slice(0, 64), profile: profile.slice(0, 64), client: peer }, 'postgres gateway: authentication failed');
        // The same words PostgreSQL uses, so clients show the familiar message.
        fatal(client, '28P01', `password authentication failed for user "${name}"`);
        return;
      }
      user = auth.user;
      authVia = auth.via;
      try {
        admission = await admit({ ...deps, maxSessionMs, sessionLeaseMs }, gatewayKind, user, profile);
      } catch (err) {
        const r = err instanceof Refusal ? err : new Refusal('internal', 'internal error');
        log.warn({ user: user.name, profile, client: peer, reason: r.message }, 'postgres gateway: session refused');
        fatal(client, refusalCodes[r.kind], r.message);
        return;
      }
      const c = admission.credentials;
      const passthrough = Object.fromEntries(Object.entries(startup.params).filter(([k]) => k !== 'user' && k !== 'database' && k !== 'replication' && !k.startsWith('_pq_.')));
      try {
        upstream = await connectUpstream({
          host: String(c.connection.host), port: Number(c.connection.port), database: String(c.connection.database),
          user: c.account, password: c.password ?? '', ssl: upstreamSsl(admission), params: passthrough, timeoutMs: upstreamTimeoutMs,
        });
      } catch (err) {
        const message = safeErrorText(err, [c.password]);
        log.error({ user: user.name, profile, grantId: admission.grant.id, error: message }, 'postgres gateway: login to the target failed');
        await endGrant(admission);
        fatal(client, err instanceof UpstreamError && err.sqlState ? err.sqlState : '08006', `the target refused the session: ${message}`);
        return;
      }
    } catch (err) {
      if (timedOut || raw.destroyed) throw new ClientGone(timedOut ? `handshake not finished within ${handshakeTimeoutMs} ms` : safeErrorText(err));
      if (err instanceof ProtocolError) {
        log.warn({ client: peer, error: err.message }, 'postgres gateway: protocol error during the handshake');
        fatal(client, '08P01', err.message);
        return;
      }
      throw err;
    } finally {
      clearTimeout(timer);
      inHandshake.delete(raw);
    }
    const rest = reader.detach();
    await relay({ client, rest, upstream, admission, user, authVia, profile: admission.grant.profile, peer, secure });
  }

  function cancel(processId: number, secretKey: number): void {
    const k = cancelKeys.get(processId);
    if (!k) return;
    const a = Buffer.alloc(4);
    const b = Buffer.alloc(4);
    a.writeInt32BE(k.secretKey);
    b.writeInt32BE(secretKey);
    if (!timingSafeEqual(a, b)) return;
    cancelUpstream({ host: k.host, port: k.port, ssl: k.ssl, processId: k.processId, secretKey: k.upstreamSecret });
  }

  /** TLS to the target when the target says sslmode=require. */
  function upstreamSsl(a: Admission): boolean {
    return a.target.settings.sslmode === 'require';
  }

  /** The session is over: a session-bound grant goes with it. */
  async function endGrant(a: Admission): Promise<void> {
    if (a.kind !== 'session-bound') return;
    const grantId = a.grant.id;
    try {
      await deps.grants.revoke({ grantId, actor: gatewayActor, reason: 'session-ended' });
    } catch (err) {
      // The expiry worker retries whatever is left (the grant is revoking, or its lease lapses).
      log.error({ grantId, error: safeErrorText(err) }, 'postgres gateway: revoking the session grant failed');
    } finally {
      leases.release(grantId);
    }
  }

  async function relay(s: { client: Duplex; rest: Buffer; upstream: Upstream; admission: Admission; user: UserDef; authVia: 'api-token' | 'connect-token'; profile: string; peer: string; secure: boolean }): Promise<void> {
    const { client, upstream, admission, user } = s;
    const grant = admission.grant;
    const up = upstream.socket;
    const sessionId = `ses_${randomId(12)}`;
    const startedAt = clock.now();
    let processId: number;
    do processId = randomInt(1, 2 ** 31 - 1);
    while (cancelKeys.has(processId));
    const secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
    const conn = admission.credentials.connection;
    cancelKeys.set(processId, { secretKey, host: String(conn.host), port: Number(conn.port), ssl: upstreamSsl(admission), processId: upstream.processId, upstreamSecret: upstream.secretKey });

    let record: SessionLogHandle;
    try {
      record = await sessions.open({
        sessionId, user: user.name, profile: s.profile, target: grant.target, grantId: grant.id, account: grant.account,
        grantKind: admission.kind, client: s.peer, tls: s.secure, startedAt: new Date(startedAt).toISOString(),
      });
      await deps.store.appendAudit({
        at: startedAt, actor: user.name, action: 'session.started', requestId: grant.requestId, grantId: grant.id, target: grant.target, subjectUser: user.name,
        details: { sessionId, gateway: 'postgres', account: grant.account, profile: s.profile, grantKind: admission.kind, client: s.peer, tls: s.secure, auth: s.authVia },
      });
    } catch (err) {
      // No recording, no session.
      cancelKeys.delete(processId);
      up.destroy();
      log.error({ sessionId, error: safeErrorText(err) }, 'postgres gateway: could not start the session record');
      fatal(client, 'XX000', 'the gateway could not record the session; it was not opened');
      await endGrant(admission);
      return;
    }
    log.info({ sessionId, user: user.name, profile: s.profile, grantId: grant.id, account: grant.account, client: s.peer }, 'postgres gateway: session started');

    let bytesIn = 0;
    let bytesOut = 0;
    const tracker = new StatementTracker(clock.now, (st) => record.statement(st));
    const track = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        log.warn({ sessionId, error: safeErrorText(err) }, 'postgres gateway: could not decode a message for the session log');
      }
    };
    // Terminate ('X'): the client is leaving, and the target closing right after is its doing, not the target's.
    let clientTerminated = false;
    const TERMINATE = 0x58;
    const clientScan = new FrameScanner(
      (t) => CLIENT_CAPTURE.has(t) || t === TERMINATE,
      (t, body, truncated) => {
        if (t === TERMINATE) {
          clientTerminated = true;
          return;
        }
        // Throws, and the frame's last bytes are never relayed, so the target never runs it (fromClient).
        if (t === QUERY || t === PARSE) checkStatement(t, body, truncated);
        track(() => tracker.fromClient(t, body));
      },
      64 * 1024,
      // Statements are read whole, to be checked whole (other messages: their first 64 KiB is enough).
      (t) => (t === QUERY || t === PARSE ? MAX_CHECKED_SQL : undefined),
    );
    const serverScan = new FrameScanner((t) => SERVER_CAPTURE.has(t), (t, body) => track(() => tracker.fromServer(t, body)));

    /** A statement that would give a role a password (credential-guard.ts), or one too large to check. */
    function checkStatement(t: number, body: Buffer, truncated: boolean): void {
      if (truncated) throw new StatementRefused('too-large', `a statement longer than ${MAX_CHECKED_SQL / (1 << 20)} MiB cannot be checked by the Stint gateway and is not run; send it in smaller statements`);
      const sql = t === QUERY ? parseQuery(body) : parseParse(body).sql;
      const found = findCredentialChange(sql);
      if (found) {
        throw new StatementRefused(
          'credential-change',
          `the Stint gateway ended this session: ${found.statement} is not allowed through the gateway (a password set here would work outside the recorded session); the attempt is recorded`,
          found.statement,
        );
      }
    }

    /** Ends the session before the refused statement reaches the target; recorded in the session log, the audit and the log. */
    function refused(r: StatementRefused): void {
      // Nothing more goes upstream, now: the refused frame's first bytes may already be there, and
      // anything relayed after them would complete it.
      relayStopped = true;
      up.destroy();
      client.pause();
      const at = clock.now();
      record.statement({ at: new Date(at).toISOString(), protocol: 'simple', sql: r.statement ? `<refused: ${r.statement}>` : '<refused: statement too large to check>', ms: 0, rows: null, error: `refused by the gateway: ${r.kind}` });
      log.warn({ sessionId, user: user.name, grantId: grant.id, account: grant.account, refused: r.kind, statement: r.statement }, 'postgres gateway: statement refused; session ended');
      void (async () => {
        try {
          await deps.store.appendAudit({
            at, actor: user.name, action: 'session.statement-refused', requestId: grant.requestId, grantId: grant.id, target: grant.target, subjectUser: user.name,
            details: { sessionId, gateway: 'postgres', account: grant.account, refused: r.kind, ...(r.statement ? { statement: r.statement } : {}) },
          });
        } catch (err) {
          log.error({ sessionId, error: safeErrorText(err) }, 'postgres gateway: could not audit a refused statement');
        }
        await session.end(r.kind === 'credential-change' ? 'credential-change-refused' : 'statement-too-large', { code: r.kind === 'credential-change' ? '42501' : '54000', message: r.message });
      })();
    }

    let relayStopped = false;
    let expiryTimer: NodeJS.Timeout | null = null;
    let ended: Promise<void> | null = null;
    const session: LiveSession = {
      end(reason, notice) {
        ended ??= finish(reason, notice);
        return ended;
      },
    };
    live.add(session);
    // Held only once the session is live: if anything fails before, nothing renews the lease and it lapses.
    if (admission.kind === 'session-bound') leases.hold(grant.id);

    async function finish(reason: string, notice?: { code: string; message: string }): Promise<void> {
      if (expiryTimer) clearTimeout(expiryTimer);
      cancelKeys.delete(processId);
      up.destroy();
      if (notice && client.writable) client.end(errorResponse('FATAL', notice.code, notice.message));
      else client.end();
      setTimeout(() => client.destroy(), 1000).unref();
      tracker.flush(reason);
      await endGrant(admission);
      const at = clock.now();
      try {
        await record.end({ at, reason, bytesIn, bytesOut });
        await deps.store.appendAudit({
          at, actor: 'stint', action: 'session.ended', requestId: grant.requestId, grantId: grant.id, target: grant.target, subjectUser: user.name,
          details: { sessionId, gateway: 'postgres', account: grant.account, reason, bytesIn, bytesOut, statements: record.record.statements.length + record.record.statementsDropped, durationMs: at - startedAt },
        });
      } catch (err) {
        log.error({ sessionId, error: safeErrorText(err) }, 'postgres gateway: could not finish the session record');
      }
      live.delete(session);
      log.info({ sessionId, user: user.name, grantId: grant.id, account: grant.account, reason, bytesIn, bytesOut }, 'postgres gateway: session ended');
    }

    /** Why the target closed on us: the grant ended (expiry, revoke) or something else. */
    async function upstreamClosed(): Promise<void> {
      // The gateway closed it itself, refusing a statement; refused() ends the session with that reason.
      if (relayStopped) return;
      if (clientTerminated) return session.end('client-disconnected');
      let reason = 'target-closed';
      try {
        const g = await deps.grants.get(grant.id);
        if (g.status !== 'active') reason = `grant-${g.revokeReason ?? g.status}`;
      } catch {
        // keep the generic reason
      }
      await session.end(reason);
    }

    // Belt and braces with the expiry worker: the session ends when the grant does.
    function armExpiry(expiresAt: number | null): void {
      if (expiresAt === null) return;
      const delay = Math.min(Math.max(0, expiresAt - clock.now()), 2 ** 31 - 1);
      expiryTimer = setTimeout(() => {
        void (async () => {
          const g = await deps.grants.get(grant.id).catch(() => null);
          if (g && g.status === 'active' && g.expiresAt !== null && g.expiresAt > clock.now()) return armExpiry(g.expiresAt); // extended
          await session.end('grant-expired', { code: '57P01', message: `terminating connection: the Stint grant ${grant.id} for ${grant.profile} expired` });
        })();
      }, delay + 250);
      expiryTimer.unref();
    }
    armExpiry(grant.expiresAt);

    // Startup frames with the gateway's own cancel key in place of the target's.
    const frames = upstream.frames;
    const z = frames[frames.length - 1]!;
    client.write(Buffer.concat([...frames.slice(0, -1), backendKeyData(processId, secretKey), z]));

    const fromClient = (chunk: Buffer) => {
      if (relayStopped) return;
      bytesIn += chunk.length;
      try {
        clientScan.push(chunk);
      } catch (err) {
        if (err instanceof StatementRefused) {
          refused(err);
          return;
        }
        void session.end('protocol-error', { code: '08P01', message: (err as Error).message });
        return;
      }
      if (!up.write(chunk)) {
        client.pause();
        up.once('drain', () => client.resume());
      }
    };
    const fromServer = (chunk: Buffer) => {
      bytesOut += chunk.length;
      try {
        serverScan.push(chunk);
      } catch (err) {
        void session.end('protocol-error', { code: '08P01', message: `target: ${(err as Error).message}` });
        return;
      }
      if (!client.write(chunk)) {
        up.pause();
        client.once('drain', () => up.resume());
      }
    };
    client.on('data', fromClient);
    up.on('data', fromServer);
    client.on('error', () => void session.end('client-error'));
    client.on('close', () => void session.end('client-disconnected'));
    up.on('error', () => void upstreamClosed());
    up.on('close', () => void upstreamClosed());
    if (s.rest.length) fromClient(s.rest);
    if (upstream.rest.length) fromServer(upstream.rest);
    client.resume();
    up.resume();
    // The client may have gone while the role was being made (its close event is then past): end now, not at expiry.
    if (client.destroyed || !client.readable) void session.end('client-disconnected');
    else if (up.destroyed) void upstreamClosed();
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
          server.on('error', (err: Error) => log.error({ error: safeErrorText(err) }, 'postgres gateway: listener error'));
          const a = server.address() as net.AddressInfo;
          log.info({ host: a.address, port: a.port, tls: !!secureContext, requireTls: deps.requireTls }, 'postgres gateway listening');
          resolve({ host: a.address, port: a.port });
        });
      });
    },
    pending: () => ({ sockets: sockets.size, handshakes: handshakes.size }),
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Clients still in their handshake (one that sent SSLRequest and went quiet, say) go first: nothing waits on them.
      for (const kill of inHandshake.values()) kill();
      await Promise.all([...live].map((s) => s.end('gateway-shutdown', { code: '57P01', message: 'terminating connection: the Stint gateway is shutting down' })));
      for (const s of sockets) s.destroy();
      // Logins past the client's part (admission, target login) finish their target work, within a bound.
      let bound: NodeJS.Timeout | undefined;
      const settled = await Promise.race([
        Promise.all([...handshakes]).then(() => true),
        new Promise<boolean>((resolve) => (bound = setTimeout(() => resolve(false), closeTimeoutMs))),
      ]);
      clearTimeout(bound);
      if (!settled) log.warn({ handshakes: handshakes.size, timeoutMs: closeTimeoutMs }, 'postgres gateway: logins still under way at shutdown; their grants end with their session leases');
      await Promise.all([...live].map((s) => s.end('gateway-shutdown')));
      leases.stop();
      if (server.listening) await stopped;
    },
  };
}
