// A TCP relay in front of a PostgreSQL target that reads what clients send
// it (simple and extended query messages; the test servers speak plain TCP)
// and keeps each statement text, so a test can count what reached the target
// (e.g. DROP ROLE per account) without server logs or superuser settings.

import { createServer, connect, type Server, type Socket } from 'node:net';

export interface StatementCounter {
  port: number;
  /** Every query text clients sent, in arrival order per connection. */
  statements(): string[];
  close(): Promise<void>;
}

export async function startStatementCounter(target: { host: string; port: number }): Promise<StatementCounter> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let buf = Buffer.alloc(0);
    let started = false;
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (!started) {
          // Startup (or SSLRequest): int32 length, no type byte.
          if (buf.length < 4) break;
          const len = buf.readInt32BE(0);
          if (buf.length < len) break;
          const code = buf.readInt32BE(4);
          buf = buf.subarray(len);
          if (code !== 80877103) started = true; // an SSLRequest is followed by the real startup message
          continue;
        }
        if (buf.length < 5) break;
        const type = String.fromCharCode(buf[0]!);
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) break;
        const body = buf.subarray(5, 1 + len);
        if (type === 'Q') seen.push(body.subarray(0, body.indexOf(0)).toString('utf8'));
        if (type === 'P') {
          const nameEnd = body.indexOf(0);
          seen.push(body.subarray(nameEnd + 1, body.indexOf(0, nameEnd + 1)).toString('utf8'));
        }
        buf = buf.subarray(1 + len);
      }
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    statements: () => [...seen],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
