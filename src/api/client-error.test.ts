// What Node's HTTP parser refuses is answered on the raw socket, which is then
// closed for good (destroyed), not left half-open for a client that writes on.
// Over a real TCP connection on loopback.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { clientErrorHandler } from './server.js';

/** A connected pair: the server's end (half-open allowed, as Node's HTTP server has it) and the client's. */
async function pair(): Promise<{ server: net.Socket; client: net.Socket; close(): void }> {
  let accepted!: (s: net.Socket) => void;
  const got = new Promise<net.Socket>((r) => (accepted = r));
  const srv = net.createServer({ allowHalfOpen: true }, (s) => accepted(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const client = net.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const server = await got;
  return { server, client, close: () => (client.destroy(), server.destroy(), srv.close()) };
}

describe('HTTP parser errors', { timeout: 300_000 }, () => {
  for (const [code, status] of [
    ['HPE_INVALID_HEADER_TOKEN', 400],
    ['HPE_HEADER_OVERFLOW', 431],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408],
  ] as const) {
    it(`${code}: ${status} in the one error shape, then the connection is destroyed`, async () => {
      const p = await pair();
      try {
        let text = '';
        p.client.on('data', (d) => (text += d.toString()));
        const ended = new Promise<void>((r) => p.client.once('end', () => r()));
        const gone = new Promise<void>((r) => p.server.once('close', () => r()));
        clientErrorHandler(Object.assign(new Error('refused'), { code }), p.server);
        await ended;
        await gone;
        assert.equal(p.server.destroyed, true);
        const [head, body] = text.split('\r\n\r\n');
        assert.match(head!, new RegExp(`^HTTP/1\\.1 ${status} `));
        const e = JSON.parse(body!).error;
        assert.equal(e.code, 'invalid');
        assert.match(e.requestId, /^r-[0-9a-f]{12}$/);
      } finally {
        p.close();
      }
    });
  }

  it('a socket already reset is destroyed, with nothing written', async () => {
    const p = await pair();
    try {
      clientErrorHandler(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), p.server);
      assert.equal(p.server.destroyed, true);
    } finally {
      p.close();
    }
  });
});
