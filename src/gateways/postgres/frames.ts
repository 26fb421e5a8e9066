// PostgreSQL wire protocol (v3) framing for the gateway. Backend messages are
// decoded with pg-protocol's parser (the one the `pg` driver uses); pg-protocol
// has no parser for frontend messages, so the few the gateway reads (startup
// packets, password, Query, Parse, Bind, Execute) are decoded here. Frontend
// messages the gateway sends upstream use pg-protocol's serializer, except the
// startup packet: its serializer forces client_encoding=UTF8, and the gateway
// must pass the client's own parameters through unchanged.

import type { Duplex } from 'node:stream';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';

export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Same bound PostgreSQL puts on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET = 10_000;

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: number }
  | { kind: 'startup'; version: number; params: Record<string, string> }
  | { kind: 'unsupported'; code: number };

/** Decodes an untyped packet's body (everything after its int32 length). */
export function parseStartupPacket(body: Buffer): StartupPacket {
  if (body.length < 4) throw new ProtocolError('startup packet too short');
  const code = body.readInt32BE(0);
  if (code === SSL_REQUEST_CODE && body.length === 4) return { kind: 'ssl' };
  if (code === GSSENC_REQUEST_CODE && body.length === 4) return { kind: 'gssenc' };
  if (code === CANCEL_REQUEST_CODE && body.length === 12) return { kind: 'cancel', processId: body.readInt32BE(4), secretKey: body.readInt32BE(8) };
  if (code >>> 16 !== 3) return { kind: 'unsupported', code };
  const params: Record<string, string> = Object.create(null);
  let at = 4;
  for (;;) {
    const keyEnd = body.indexOf(0, at);
    if (keyEnd < 0) throw new ProtocolError('startup packet: unterminated parameter name');
    if (keyEnd === at) break; // the terminating empty name
    const valEnd = body.indexOf(0, keyEnd + 1);
    if (valEnd < 0) throw new ProtocolError('startup packet: unterminated parameter value');
    params[body.toString('utf8', at, keyEnd)] = body.toString('utf8', keyEnd + 1, valEnd);
    at = valEnd + 1;
  }
  return { kind: 'startup', version: code, params };
}

/** A v3.0 StartupMessage carrying exactly `params` (pg-protocol's adds client_encoding). */
export function startupMessage(params: Record<string, string>): Buffer {
  const parts: Buffer[] = [int32(PROTOCOL_3_0)];
  for (const [k, v] of Object.entries(params)) parts.push(cstring(k), cstring(v));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  return Buffer.concat([int32(body.length + 4), body]);
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/**
 * A connection PostgreSQL closes without a word (its COMMERROR): a startup
 * packet of impossible length — which is also what a Terminate, a TLS
 * ClientHello or any other non-PostgreSQL bytes look like there.
 */
export class SilentClose extends ProtocolError {
  constructor(message: string) {
    super(message);
    this.name = 'SilentClose';
  }
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

/** A typed backend message frame: type byte, int32 length, body. */
export function backendFrame(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

export type ErrorSeverity = 'FATAL' | 'ERROR';

/** ErrorResponse with severity, SQLSTATE and message (what psql prints as `FATAL:  …`). */
export function errorResponse(severity: ErrorSeverity, code: string, message: string): Buffer {
  return backendFrame(
    'E',
    Buffer.concat([
      Buffer.from('S'),
      cstring(severity),
      Buffer.from('V'),
      cstring(severity),
      Buffer.from('C'),
      cstring(code),
      Buffer.from('M'),
      cstring(message),
      Buffer.from([0]),
    ]),
  );
}

export const authenticationCleartextPassword = (): Buffer => backendFrame('R', int32(3));

export function backendKeyData(processId: number, secretKey: number): Buffer {
  return backendFrame('K', Buffer.concat([int32(processId), int32(secretKey)]));
}

/** Decodes one complete backend frame with pg-protocol's parser. */
export function decodeBackend(frame: Buffer): BackendMessage {
  let out: BackendMessage | undefined;
  new Parser().parse(frame, (m) => {
    out = m;
  });
  if (!out) throw new ProtocolError(`incomplete backend message ${JSON.stringify(String.fromCharCode(frame[0] ?? 0))}`);
  return out;
}

/** Frontend message bodies the gateway reads. */
export function readCString(body: Buffer, at: number): { value: string; next: number } {
  const end = body.indexOf(0, at);
  if (end < 0) throw new ProtocolError('unterminated string in message');
  return { value: body.toString('utf8', at, end), next: end + 1 };
}

export function parseQuery(body: Buffer): string {
  return readCString(body, 0).value;
}

export function parseParse(body: Buffer): { statement: string; sql: string } {
  const name = readCString(body, 0);
  // A capture cut short (a huge statement) still yields its beginning.
  const end = body.indexOf(0, name.next);
  return { statement: name.value, sql: body.toString('utf8', name.next, end < 0 ? body.length : end) };
}

export function parseBind(body: Buffer): { portal: string; statement: string; paramCount: number | null } {
  const portal = readCString(body, 0);
  const statement = readCString(body, portal.next);
  let at = statement.next;
  if (body.length < at + 2) return { portal: portal.value, statement: statement.value, paramCount: null };
  const formats = body.readInt16BE(at);
  at += 2 + formats * 2;
  const paramCount = body.length >= at + 2 ? body.readInt16BE(at) : null;
  return { portal: portal.value, statement: statement.value, paramCount };
}

export function parseExecute(body: Buffer): { portal: string } {
  return { portal: readCString(body, 0).value };
}

/**
 * Splits a byte stream into typed frames without holding large ones: frames
 * whose type `capture` accepts are delivered whole (up to `captureLimit` bytes
 * of body, or a type's own limit from `limitFor`; `truncated` says when the
 * rest was skipped), others are only counted.
 * The body may be a view of the pushed chunk: `onFrame` reads it at once and
 * must not keep it.
 */
export class FrameScanner {
  private header = Buffer.alloc(5);
  private headerHave = 0;
  private remaining = 0;
  private type = 0;
  private capturing = false;
  private parts: Buffer[] = [];
  private captured = 0;
  /** Bytes of body kept for the frame under way (its type's limit). */
  private limit = 0;
  private readonly limits = new Float64Array(256);
  private total = 0;
  /** capture(type) for every type byte, computed once: this runs for every message relayed. */
  private readonly captures = new Uint8Array(256);

  constructor(
    capture: (type: number) => boolean,
    private readonly onFrame: (type: number, body: Buffer, truncated: boolean) => void,
    captureLimit = 1 << 20,
    limitFor?: (type: number) => number | undefined,
  ) {
    for (let t = 0; t < 256; t++) {
      this.captures[t] = capture(t) ? 1 : 0;
      this.limits[t] = limitFor?.(t) ?? captureLimit;
    }
  }

  push(chunk: Buffer): void {
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      if (this.headerHave === 0 && end - at >= 5) {
        // Fast path, the usual case: a frame whose header is in this chunk
        // is read in place; if its body is here too, it is done at once.
        const type = chunk[at]!;
        const len = chunk.readInt32BE(at + 1);
        if (len < 4) throw new ProtocolError(`invalid message length ${len}`);
        const bodyAt = at + 5;
        const bodyEnd = bodyAt + len - 4;
        if (bodyEnd <= end) {
          if (this.captures[type] === 1) {
            const cut = Math.min(bodyEnd, bodyAt + this.limits[type]!);
            this.onFrame(type, chunk.subarray(bodyAt, cut), cut < bodyEnd);
          }
          at = bodyEnd;
          continue;
        }
        // The body goes on in later chunks.
        this.begin(type, len);
        at = bodyAt;
        continue;
      }
      if (this.headerHave < 5) {
        const n = Math.min(5 - this.headerHave, end - at);
        chunk.copy(this.header, this.headerHave, at, at + n);
        this.headerHave += n;
        at += n;
        if (this.headerHave < 5) return;
        const len = this.header.readInt32BE(1);
        if (len < 4) throw new ProtocolError(`invalid message length ${len}`);
        this.begin(this.header[0]!, len);
        if (this.remaining === 0) this.finish();
        continue;
      }
      const n = Math.min(this.remaining, end - at);
      if (this.capturing && this.captured < this.limit) {
        const take = Math.min(n, this.limit - this.captured);
        this.parts.push(chunk.subarray(at, at + take));
        this.captured += take;
      }
      at += n;
      this.remaining -= n;
      if (this.remaining === 0) this.finish();
    }
  }

  /** Enters the body of a frame that spans chunks (header read, `len` from it). */
  private begin(type: number, len: number): void {
    this.headerHave = 5;
    this.type = type;
    this.remaining = this.total = len - 4;
    this.capturing = this.captures[type] === 1;
    this.limit = this.limits[type]!;
    this.parts = [];
    this.captured = 0;
  }

  private finish(): void {
    this.headerHave = 0;
    if (this.capturing) {
      const body = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
      this.parts = [];
      this.onFrame(this.type, body, body.length < this.total);
    }
  }
}

/**
 * Reads whole messages from a socket during the handshake (startup, TLS
 * negotiation, authentication), where the peer waits for our answer after
 * each message. `detach` hands over to the relay (or to TLS) with the bytes
 * already received.
 *
 * The socket is read only while a message is awaited and paused otherwise
 * (while the gateway checks a token, admits, logs in upstream): a peer that
 * sends ahead is held back by TCP, not buffered here without limit.
 */
export class MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly onData = (d: Buffer) => {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    this.wake();
  };
  private readonly onEnd = () => {
    this.failure ??= new ProtocolError('connection closed during the handshake');
    this.wake();
  };
  private readonly onError = (err: Error) => {
    this.failure ??= err;
    this.wake();
  };

  constructor(private readonly socket: Duplex) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    socket.pause();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async need(n: number): Promise<void> {
    while (this.buf.length < n) {
      if (this.failure) throw this.failure;
      const more = new Promise<void>((r) => (this.waiter = r));
      this.socket.resume();
      await more;
    }
    this.socket.pause();
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  get buffered(): number {
    return this.buf.length;
  }

  /** The next byte, left unread (what kind of packet comes). */
  async peekByte(): Promise<number> {
    await this.need(1);
    return this.buf[0]!;
  }

  /** One byte (the answer to SSLRequest). */
  async readByte(): Promise<number> {
    await this.need(1);
    return this.take(1)[0]!;
  }

  /** An untyped packet's body (after its length). */
  async readUntyped(max = MAX_STARTUP_PACKET): Promise<Buffer> {
    await this.need(4);
    const len = this.buf.readInt32BE(0);
    if (len < 8 || len > max) throw new SilentClose(`invalid startup packet length ${len}`);
    await this.need(len);
    return Buffer.from(this.take(len).subarray(4));
  }

  /** A typed message: type, body and the whole frame. */
  async readTyped(max: number): Promise<{ type: string; body: Buffer; frame: Buffer }> {
    await this.need(5);
    const len = this.buf.readInt32BE(1);
    if (len < 4 || len > max) throw new ProtocolError(`invalid message length ${len}`);
    await this.need(len + 1);
    const frame = Buffer.from(this.take(len + 1));
    return { type: String.fromCharCode(frame[0]!), body: frame.subarray(5), frame };
  }

  /** Stops reading (the socket is paused until the next owner resumes it); returns bytes received but not consumed. */
  detach(): Buffer {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }
}
