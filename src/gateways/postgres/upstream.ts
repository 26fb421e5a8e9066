// The gateway's own login to the target as the session's ephemeral role:
// optional TLS (as the connector: sslmode=require encrypts without verifying),
// StartupMessage, SCRAM-SHA-256 (md5 and cleartext for older setups), then the
// server's session parameters up to the first ReadyForQuery. The role's
// password never leaves the broker.

import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { serialize } from 'pg-protocol';
import type { AuthenticationMD5Password, BackendKeyDataMessage, BackendMessage, DatabaseError } from 'pg-protocol/dist/messages.js';
import { MessageReader, decodeBackend, startupMessage } from './frames.js';
import { SCRAM_MECHANISM, ScramClient, md5PasswordResponse } from './scram-client.js';

export interface UpstreamOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  ssl: boolean;
  /** Client startup parameters passed through (application_name, client_encoding, …). */
  params: Record<string, string>;
  timeoutMs: number;
}

export interface Upstream {
  socket: Duplex;
  processId: number;
  secretKey: number;
  /** Frames for the client, in order, from AuthenticationOk to ReadyForQuery (BackendKeyData left out). */
  frames: Buffer[];
  /** Bytes received after ReadyForQuery (normally none). */
  rest: Buffer;
}

/** The target refused or failed the login; `message` is the server's (never contains the password). */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly sqlState: string | null = null,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

const MAX_BACKEND_HANDSHAKE_MESSAGE = 1 << 20;

export async function connectUpstream(o: UpstreamOptions): Promise<Upstream> {
  let socket: Duplex = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: o.host, port: o.port });
    // For its whole life: between the owners that listen for its errors (the
    // login's reader, then the relay) it is held across awaits with nobody
    // listening, and an 'error' event nobody listens for ends the process. A
    // failed socket also closes, which is what the relay acts on.
    s.on('error', () => {});
    s.once('connect', () => {
      s.off('error', reject);
      // Request/response traffic: each relayed message goes out at once (as the client side).
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', reject);
  });
  const timer = setTimeout(() => socket.destroy(new UpstreamError(`login to ${o.host}:${o.port} timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
  try {
    if (o.ssl) socket = await startTls(socket as net.Socket, o.host);
    const reader = new MessageReader(socket);
    const params: Record<string, string> = { ...o.params, user: o.user, database: o.database };
    socket.write(startupMessage(params));
    let scram: ScramClient | null = null;
    for (;;) {
      const { type, frame } = await reader.readTyped(MAX_BACKEND_HANDSHAKE_MESSAGE);
      if (type === 'E') throw fromError(decodeBackend(frame));
      if (type !== 'R') throw new UpstreamError(`unexpected message ${JSON.stringify(type)} during login`);
      const m = decodeBackend(frame);
      if (m.name === 'authenticationOk') {
        // Forward AuthenticationOk itself, then the rest of the startup.
        return await finishStartup(socket, reader, frame);
      }
      if (m.name === 'authenticationSASL') {
        const mechanisms = (m as unknown as { mechanisms: string[] }).mechanisms;
        if (!mechanisms.includes(SCRAM_MECHANISM)) throw new UpstreamError(`target offers no supported SASL mechanism (${mechanisms.join(', ')})`);
        scram = new ScramClient(o.password);
        socket.write(serialize.sendSASLInitialResponseMessage(SCRAM_MECHANISM, scram.first()));
      } else if (m.name === 'authenticationSASLContinue') {
        if (!scram) throw new UpstreamError('SASL continue without a SASL exchange');
        socket.write(serialize.sendSCRAMClientFinalMessage(await scram.final((m as unknown as { data: string }).data)));
      } else if (m.name === 'authenticationSASLFinal') {
        if (!scram) throw new UpstreamError('SASL final without a SASL exchange');
        scram.verify((m as unknown as { data: string }).data);
      } else if (m.name === 'authenticationMD5Password') {
        socket.write(serialize.password(md5PasswordResponse(o.user, o.password, (m as AuthenticationMD5Password).salt)));
      } else if (m.name === 'authenticationCleartextPassword') {
        // Only ever to the configured target; over TLS when the target asks for it.
        socket.write(serialize.password(o.password));
      } else {
        throw new UpstreamError(`unsupported authentication request from the target (${m.name})`);
      }
    }
  } catch (err) {
    socket.destroy();
    throw err instanceof UpstreamError ? err : new UpstreamError((err as Error).message);
  } finally {
    clearTimeout(timer);
  }
}

async function finishStartup(socket: Duplex, reader: MessageReader, authOk: Buffer): Promise<Upstream> {
  const frames: Buffer[] = [authOk];
  let processId = 0;
  let secretKey = 0;
  for (;;) {
    const { type, frame } = await reader.readTyped(MAX_BACKEND_HANDSHAKE_MESSAGE);
    if (type === 'E') throw fromError(decodeBackend(frame));
    if (type === 'K') {
      const k = decodeBackend(frame) as BackendKeyDataMessage;
      processId = k.processID;
      secretKey = k.secretKey;
      continue;
    }
    frames.push(frame);
    if (type === 'Z') break;
  }
  const rest = reader.detach();
  return { socket, processId, secretKey, frames, rest };
}

function startTls(socket: net.Socket, host: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const reader = new MessageReader(socket);
    socket.write(serialize.requestSsl());
    reader
      .readByte()
      .then((answer) => {
        const rest = reader.detach();
        if (answer !== 0x53 /* S */) throw new UpstreamError('the target does not accept TLS but the target is configured with sslmode=require');
        if (rest.length) throw new UpstreamError('the target sent data before the TLS handshake');
        // As the connector's sslmode=require: encrypted, certificate not verified.
        const t = tls.connect({ socket, rejectUnauthorized: false, servername: net.isIP(host) ? undefined : host });
        t.on('error', () => {}); // as the plain socket's, in connectUpstream
        t.once('secureConnect', () => {
          t.off('error', reject);
          resolve(t);
        });
        t.once('error', reject);
      })
      .catch(reject);
  });
}

function fromError(m: BackendMessage): UpstreamError {
  const e = m as DatabaseError;
  return new UpstreamError(e.message || 'login failed', e.code ?? null);
}

/** Sends a CancelRequest for an upstream backend (best effort, on its own connection). */
export function cancelUpstream(o: { host: string; port: number; ssl: boolean; processId: number; secretKey: number }): void {
  const s = net.connect({ host: o.host, port: o.port });
  s.on('error', () => {});
  s.setTimeout(10_000, () => s.destroy());
  s.once('connect', () => {
    if (!o.ssl) {
      s.end(serialize.cancel(o.processId, o.secretKey));
      return;
    }
    startTls(s, o.host)
      .then((t) => t.end(serialize.cancel(o.processId, o.secretKey)))
      .catch(() => s.destroy());
  });
}
