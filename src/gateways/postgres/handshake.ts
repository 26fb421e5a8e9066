// The PostgreSQL gateway's side of a connection up to a live session: the
// client's part (SSLRequest and TLS, the startup packet, the password, under
// the handshake deadline), then the broker's (the token, the admission, the
// login upstream as the session's role). A client turned away gets a FATAL
// with the SQLSTATE PostgreSQL would use.

import type net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { safeErrorText } from '../../core/scrub.js';
import type { UserDef } from '../../core/types.js';
import { Refusal, admit, type Admission, type RefusalKind } from '../shared/admission.js';
import { fatal, upstreamSsl, type PostgresContext } from './context.js';
import {
  MessageReader,
  PROTOCOL_3_0,
  ProtocolError,
  SilentClose,
  authenticationCleartextPassword,
  backendFrame,
  parseStartupPacket,
  readCString,
  type StartupPacket,
} from './frames.js';
import { UpstreamError, connectUpstream, type Upstream } from './upstream.js';

const MAX_PASSWORD_MESSAGE = 4096;
/** First byte of a TLS handshake record: a ClientHello sent straight away (PostgreSQL 17's sslnegotiation=direct). */
const TLS_HANDSHAKE_RECORD = 0x16;
/** The ALPN protocol PostgreSQL 17 clients offer, and that direct TLS requires. */
export const POSTGRES_ALPN = 'postgresql';

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
export class ClientGone extends Error {}

/** A connection logged in on both sides, ready to relay. */
export interface Login {
  /** The client's stream (the TLS layer once negotiated). */
  client: Duplex;
  /** Client bytes already read past the password message. */
  rest: Buffer;
  upstream: Upstream;
  admission: Admission;
  user: UserDef;
  authVia: 'api-token' | 'connect-token';
  peer: string;
  secure: boolean;
}

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

/**
 * Runs the handshake on a new connection: the Login when both sides are
 * logged in, null when the connection was answered and ended here (refused,
 * cancel request). Throws ClientGone when the client left or ran out of time.
 */
export async function handshake(ctx: PostgresContext, raw: net.Socket): Promise<Login | null> {
  const { deps, settings, secureContext } = ctx;
  const { log } = deps;
  raw.setNoDelay(true);
  // A client that vanished (laptop asleep, NAT state gone) is found out, and its session and role end.
  raw.setKeepAlive(true, 15_000);
  const peer = `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`;
  let client: Duplex = raw;
  let reader = new MessageReader(raw);
  let secure = false;
  // Until the password has arrived the client holds the pace: close(), the
  // deadline and any error destroy both layers, and every wait below then ends.
  const deadline = ctx.listener.handshake(
    raw,
    () => {
      client.destroy();
      raw.destroy();
    },
    () => log.debug({ client: peer, timeoutMs: settings.handshakeTimeoutMs }, 'postgres gateway: handshake not finished in time; connection closed'),
  );
  /** After a TLS handshake: errors handled, renegotiation off, a reader on the TLS layer. */
  function secured(t: tls.TLSSocket): MessageReader {
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
    return new MessageReader(t);
  }
  try {
    let startup: Extract<StartupPacket, { kind: 'startup' }>;
    if (secureContext && (await reader.peekByte()) === TLS_HANDSHAKE_RECORD) {
      // Direct TLS (sslnegotiation=direct): the ClientHello already read is handed back to the socket, which
      // TLSSocket reads first. As PostgreSQL 17, only with ALPN "postgresql", so that no other protocol's
      // client is taken for a PostgreSQL one.
      raw.unshift(reader.detach());
      const t = new tls.TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: [POSTGRES_ALPN] });
      client = t;
      await tlsHandshake(t, raw);
      if (t.alpnProtocol !== POSTGRES_ALPN) throw new SilentClose('direct TLS connection without ALPN "postgresql"');
      reader = secured(t);
      secure = true;
    }
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
        const t = new tls.TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: [POSTGRES_ALPN] });
        client = t;
        await tlsHandshake(t, raw);
        reader = secured(t);
        secure = true;
        continue;
      }
      if (pkt.kind === 'gssenc') {
        client.write('N');
        continue;
      }
      if (pkt.kind === 'cancel') {
        ctx.cancelKeys.cancel(pkt.processId, pkt.secretKey);
        raw.destroy();
        return null;
      }
      if (pkt.kind === 'unsupported') {
        fatal(client, '08P01', `unsupported frontend protocol ${pkt.code >>> 16}.${pkt.code & 0xffff}: the gateway speaks 3.0`);
        return null;
      }
      startup = pkt;
      break;
    }
    if (deps.requireTls && !secure) {
      fatal(client, '28000', 'the Stint gateway accepts only TLS connections: connect with sslmode=require');
      return null;
    }
    const name = startup.params.user ?? '';
    const profile = startup.params.database || name;
    if (!name) {
      fatal(client, '28000', 'no user name in the startup packet');
      return null;
    }
    const unknown = Object.keys(startup.params).filter((k) => k.startsWith('_pq_.'));
    if (startup.version !== PROTOCOL_3_0 || unknown.length) {
      // As PostgreSQL: a newer minor version or protocol options (_pq_.*) get NegotiateProtocolVersion,
      // saying the gateway speaks 3.0 and naming the options it does not know (all of them).
      const body = Buffer.alloc(8);
      body.writeInt32BE(PROTOCOL_3_0, 0);
      body.writeInt32BE(unknown.length, 4);
      client.write(backendFrame('v', Buffer.concat([body, ...unknown.map((k) => Buffer.from(`${k}\0`))])));
    }
    client.write(authenticationCleartextPassword());
    const msg = await reader.readTyped(MAX_PASSWORD_MESSAGE);
    // A client giving up at the password prompt (libpq asking the user, who then cancels) is no error.
    if (msg.type === 'X') throw new SilentClose('client ended before the password');
    if (msg.type !== 'p') throw new ProtocolError(`expected a password message, got ${JSON.stringify(msg.type)}`);
    // The client's part is done; what follows (token, admission, target login) has its own bounds.
    deadline.done();
    const token = readCString(msg.body, 0).value;
    const logged = await login(ctx, { client, peer, name, profile, token, params: startup.params });
    return logged && { ...logged, client, rest: reader.detach(), peer, secure };
  } catch (err) {
    if (deadline.timedOut || raw.destroyed)
      throw new ClientGone(deadline.timedOut ? `handshake not finished within ${settings.handshakeTimeoutMs} ms` : safeErrorText(err));
    if (err instanceof SilentClose) {
      // PostgreSQL says nothing here either (COMMERROR): the peer is not speaking its protocol.
      log.debug({ client: peer, error: err.message }, 'postgres gateway: connection closed during the startup');
      client.destroy();
      raw.destroy();
      return null;
    }
    if (err instanceof ProtocolError) {
      log.warn({ client: peer, error: err.message }, 'postgres gateway: protocol error during the handshake');
      fatal(client, '08P01', err.message);
      return null;
    }
    throw err;
  } finally {
    deadline.done();
  }
}

/** The broker's part: the token, the admission (a grant and its role), the login upstream. Null when refused (the client was told). */
async function login(
  ctx: PostgresContext,
  c: { client: Duplex; peer: string; name: string; profile: string; token: string; params: Record<string, string> },
): Promise<Pick<Login, 'upstream' | 'admission' | 'user' | 'authVia'> | null> {
  const { deps, settings } = ctx;
  const { log } = deps;
  const { client, peer, name, profile } = c;
  const auth = await deps.tokens.authenticateGateway(c.token, profile);
  if (!auth || auth.user.name !== name) {
    log.warn({ user: name.slice(0, 64), profile: profile.slice(0, 64), client: peer }, 'postgres gateway: authentication failed');
    // The same words PostgreSQL uses, so clients show the familiar message.
    fatal(client, '28P01', `password authentication failed for user "${name}"`);
    return null;
  }
  const user = auth.user;
  let admission: Admission;
  try {
    admission = await admit({ ...deps, maxSessionMs: settings.maxSessionMs, sessionLeaseMs: settings.sessionLeaseMs }, gatewayKind, user, profile);
  } catch (err) {
    const r = err instanceof Refusal ? err : new Refusal('internal', 'internal error');
    log.warn({ user: user.name, profile, client: peer, reason: r.message }, 'postgres gateway: session refused');
    fatal(client, refusalCodes[r.kind], r.message);
    return null;
  }
  const cred = admission.credentials;
  const passthrough = Object.fromEntries(
    Object.entries(c.params).filter(([k]) => k !== 'user' && k !== 'database' && k !== 'replication' && !k.startsWith('_pq_.')),
  );
  try {
    const upstream = await connectUpstream({
      host: String(cred.connection.host),
      port: Number(cred.connection.port),
      database: String(cred.connection.database),
      user: cred.account,
      password: cred.password ?? '',
      ssl: upstreamSsl(admission),
      params: passthrough,
      timeoutMs: settings.upstreamTimeoutMs,
    });
    return { upstream, admission, user, authVia: auth.via };
  } catch (err) {
    const message = safeErrorText(err, [cred.password]);
    log.error({ user: user.name, profile, grantId: admission.grant.id, error: message }, 'postgres gateway: login to the target failed');
    await ctx.keeper.endGrant(admission);
    fatal(client, err instanceof UpstreamError && err.sqlState ? err.sqlState : '08006', `the target refused the session: ${message}`);
    return null;
  }
}
