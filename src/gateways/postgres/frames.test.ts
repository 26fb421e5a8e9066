import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import { serialize } from 'pg-protocol';
import type { DatabaseError } from 'pg-protocol/dist/messages.js';
import {
  FrameScanner,
  MessageReader,
  PROTOCOL_3_0,
  ProtocolError,
  backendKeyData,
  decodeBackend,
  errorResponse,
  parseBind,
  parseParse,
  parseStartupPacket,
  startupMessage,
} from './frames.js';

const body = (packet: Buffer) => packet.subarray(4);

describe('startup packets', () => {
  it("round-trips a StartupMessage with the client's own parameters", () => {
    const p = parseStartupPacket(body(startupMessage({ user: 'alice', database: 'pg-read', client_encoding: 'LATIN1' })));
    assert.ok(p.kind === 'startup');
    assert.equal(p.version, PROTOCOL_3_0);
    assert.deepEqual({ ...p.params }, { user: 'alice', database: 'pg-read', client_encoding: 'LATIN1' });
    // Parameter names cannot reach Object.prototype.
    const q = parseStartupPacket(body(startupMessage({ __proto__: 'x', user: 'a' } as Record<string, string>)));
    assert.ok(q.kind === 'startup' && Object.getPrototypeOf(q.params) === null);
  });

  it("reads pg-protocol's own startup, SSLRequest and CancelRequest", () => {
    const p = parseStartupPacket(body(serialize.startup({ user: 'bob' })));
    assert.equal(p.kind, 'startup');
    assert.equal(p.kind === 'startup' && p.params.user, 'bob');
    assert.deepEqual(parseStartupPacket(body(serialize.requestSsl())), { kind: 'ssl' });
    assert.deepEqual(parseStartupPacket(body(serialize.cancel(1234, -5))), { kind: 'cancel', processId: 1234, secretKey: -5 });
  });

  it('rejects unterminated parameters and reports other protocols', () => {
    const bad = Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from('user\0alice')]);
    assert.throws(() => parseStartupPacket(bad), ProtocolError);
    const v2 = Buffer.alloc(4);
    v2.writeInt32BE(2 << 16);
    assert.deepEqual(parseStartupPacket(v2), { kind: 'unsupported', code: 2 << 16 });
  });

  it('the message reader bounds the startup length', async () => {
    const s = new PassThrough();
    const r = new MessageReader(s);
    const huge = Buffer.alloc(8);
    huge.writeInt32BE(1_000_000);
    s.write(huge);
    await assert.rejects(r.readUntyped(), /invalid startup packet length/);
  });

  it('the message reader reads only while a message is awaited: what a peer sends ahead waits in the stream', async () => {
    const s = new PassThrough({ highWaterMark: 1024 });
    const r = new MessageReader(s);
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8);
    startup.writeInt32BE(PROTOCOL_3_0, 4);
    const ahead = Buffer.alloc(1 << 20, 0x51);
    s.write(Buffer.concat([startup, ahead]));
    assert.equal((await r.readUntyped()).readInt32BE(0), PROTOCOL_3_0);
    assert.equal(s.isPaused(), true, 'paused between messages');
    for (let i = 0; i < 5; i++) await new Promise((res) => setImmediate(res));
    assert.equal(r.buffered, ahead.length, 'the one chunk already read');
    s.write(Buffer.alloc(1 << 20, 0x51));
    for (let i = 0; i < 5; i++) await new Promise((res) => setImmediate(res));
    assert.equal(r.buffered, ahead.length, 'nothing more taken in while nobody reads');
    assert.ok(s.readableLength > 0, 'it waits in the stream (and, on a socket, in TCP)');
  });
});

describe('frontend messages', () => {
  it('decodes Parse and Bind as pg-protocol serializes them', () => {
    const p = serialize.parse({ name: 's1', text: 'SELECT $1::int', types: [23] });
    assert.deepEqual(parseParse(p.subarray(5)), { statement: 's1', sql: 'SELECT $1::int' });
    const b = serialize.bind({ portal: 'p1', statement: 's1', values: ['42', null, Buffer.from('x')] });
    assert.deepEqual(parseBind(b.subarray(5)), { portal: 'p1', statement: 's1', paramCount: 3 });
  });
});

describe('backend messages', () => {
  it("our ErrorResponse and BackendKeyData decode with pg-protocol's parser", () => {
    const e = decodeBackend(errorResponse('FATAL', '28P01', 'password authentication failed for user "x"')) as DatabaseError;
    assert.equal(e.severity, 'FATAL');
    assert.equal(e.code, '28P01');
    assert.equal(e.message, 'password authentication failed for user "x"');
    const k = decodeBackend(backendKeyData(7, -9)) as unknown as { processID: number; secretKey: number };
    assert.equal(k.processID, 7);
    assert.equal(k.secretKey, -9);
  });
});

describe('FrameScanner', () => {
  const frames = Buffer.concat([serialize.query('SELECT 1'), serialize.sync(), serialize.copyData(Buffer.alloc(70_000, 1)), serialize.query('SELECT 2')]);

  it('delivers captured frames whole however the stream is cut', () => {
    for (const size of [1, 3, 5, 7, 4096, frames.length]) {
      const got: string[] = [];
      const s = new FrameScanner(
        (t) => t === 0x51,
        (_t, b) => got.push(b.toString('utf8', 0, b.length - 1)),
      );
      for (let i = 0; i < frames.length; i += size) s.push(frames.subarray(i, i + size));
      assert.deepEqual(got, ['SELECT 1', 'SELECT 2'], `chunk size ${size}`);
    }
  });

  it('keeps at most captureLimit bytes of a large frame and says it was cut', () => {
    const seen: { len: number; truncated: boolean }[] = [];
    const s = new FrameScanner(
      (t) => t === 0x64,
      (_t, b, truncated) => seen.push({ len: b.length, truncated }),
      1024,
    );
    s.push(frames);
    assert.deepEqual(seen, [{ len: 1024, truncated: true }]);
  });

  it('a type with its own limit is kept to that limit, others to captureLimit (statements are checked whole)', () => {
    const big = serialize.query(`SELECT '${'x'.repeat(200_000)}'`);
    const stream = Buffer.concat([big, serialize.copyData(Buffer.alloc(5000, 1))]);
    for (const size of [4096, stream.length]) {
      const seen: { type: number; len: number; truncated: boolean }[] = [];
      const s = new FrameScanner(
        (t) => t === 0x51 || t === 0x64,
        (type, b, truncated) => seen.push({ type, len: b.length, truncated }),
        1024,
        (t) => (t === 0x51 ? 1 << 20 : undefined),
      );
      for (let i = 0; i < stream.length; i += size) s.push(stream.subarray(i, i + size));
      assert.deepEqual(
        seen,
        [
          { type: 0x51, len: big.length - 5, truncated: false },
          { type: 0x64, len: 1024, truncated: true },
        ],
        `chunk size ${size}`,
      );
    }
  });

  it('any frames cut into any chunks: every captured frame once, in order, cut at the limit', () => {
    const frame = fc.record({ type: fc.constantFrom(0x51, 0x43, 0x44, 0x5a), body: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }), (frames, cuts) => {
        const limit = 100;
        const stream = Buffer.concat(
          frames.map((f) => {
            const head = Buffer.alloc(5);
            head[0] = f.type;
            head.writeInt32BE(f.body.length + 4, 1);
            return Buffer.concat([head, Buffer.from(f.body)]);
          }),
        );
        const want = frames
          .filter((f) => f.type !== 0x44)
          .map((f) => ({ type: f.type as number, body: Buffer.from(f.body.subarray(0, limit)).toString('hex'), truncated: f.body.length > limit }));
        const got: typeof want = [];
        const s = new FrameScanner(
          (t) => t !== 0x44,
          (type, body, truncated) => got.push({ type, body: body.toString('hex'), truncated }),
          limit,
        );
        for (let at = 0, i = 0; at < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          s.push(stream.subarray(at, at + n));
          at += n;
        }
        assert.deepEqual(got, want);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a frame length below 4', () => {
    const s = new FrameScanner(
      () => true,
      () => {},
    );
    assert.throws(() => s.push(Buffer.from([0x51, 0, 0, 0, 2])), ProtocolError);
  });
});
