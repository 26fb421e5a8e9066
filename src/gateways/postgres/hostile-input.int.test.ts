// Property (issue 18): random and hostile bytes at the gateway's handshake —
// bad lengths, split frames, pipelined garbage, TLS records, half packets —
// never take the gateway down: every connection is closed or answered, no
// handshake or socket stays tracked, and a well-formed client is still
// answered afterwards.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import fc from 'fast-check';
import { serialize } from 'pg-protocol';
import { handshakeOnlyGateway } from '../testing/postgres-gateway.js';
import { until } from '../testing/wait.js';
import { MessageReader, startupMessage } from './frames.js';
import type { PostgresGateway } from './index.js';

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
};

/** Pieces a hostile client strings together. */
const piece = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map(int32),
  fc.constantFrom(
    serialize.requestSsl(),
    serialize.end(),
    serialize.query('SELECT 1'),
    startupMessage({ user: 'alice', database: 'pg-read' }),
    startupMessage({ user: 'alice', '_pq_.x': 'y' }),
    serialize.password('x'),
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]),
  ),
);

describe('postgres gateway under hostile input', () => {
  let gw: PostgresGateway;
  let port: number;
  before(async () => {
    // Plain TCP on loopback: every byte reaches the parser (TLS would only wrap it).
    gw = handshakeOnlyGateway(null, { requireTls: false, handshakeTimeoutMs: 2_000 });
    port = (await gw.listen()).port;
  });
  after(() => gw?.close());

  it('random frames, split anywhere, leave the gateway up and nothing tracked', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }), async (pieces, cuts) => {
        const bytes = Buffer.concat(pieces);
        const s = net.connect({ host: '127.0.0.1', port });
        s.on('error', () => {});
        s.on('data', () => {});
        await once(s, 'connect');
        // Split frames: the same bytes in writes of random sizes.
        let at = 0;
        for (const n of cuts) {
          if (at >= bytes.length) break;
          s.write(bytes.subarray(at, at + n));
          at += n;
        }
        s.end(bytes.subarray(at));
        // Every connection ends: closed by the gateway, answered and closed, or at the handshake deadline.
        if (!s.destroyed) await once(s, 'close');
      }),
      { numRuns: 150 },
    );
    await until('nothing tracked', () => gw.pending().sockets === 0 && gw.pending().handshakes === 0, 30_000);
    // Still up: a well-formed client gets its password request.
    const s = net.connect({ host: '127.0.0.1', port });
    await once(s, 'connect');
    const reader = new MessageReader(s);
    s.write(startupMessage({ user: 'alice', database: 'pg-read' }));
    const r = await reader.readTyped(64);
    assert.equal(r.type, 'R');
    s.destroy();
  });
});
