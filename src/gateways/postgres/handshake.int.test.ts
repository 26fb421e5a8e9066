// Clients that hold on during the handshake (issue 12, item 2): one that sends
// SSLRequest, reads 'S' and leaves, or stays without a TLS handshake, or sends
// a ClientHello and goes quiet, or sends nothing at all. Every such handshake
// settles (on close, on error, on its deadline), close() resolves with them
// attached, many of them leave nothing tracked behind, and a real broker
// (child process) with them attached exits on SIGTERM.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { serialize } from 'pg-protocol';
import { Writable } from 'node:stream';
import { createApp } from '../../app.js';
import { freePort } from '../../embedded/free-port.js';
import { createLogger } from '../../log.js';
import { createTestTarget, type TestTarget } from '../../testing/broker.js';
import { startChildBroker, writeBrokerConfig } from '../../testing/child-broker.js';
import { startupMessage } from './frames.js';
import { handshakeOnlyGateway } from '../testing/postgres-gateway.js';
import { selfSignedCert } from '../testing/tls-cert.js';
import { until } from '../testing/wait.js';

interface Held {
  socket: net.Socket;
  closed: Promise<void>;
}

function track(socket: net.Socket): Held {
  socket.on('error', () => {});
  return { socket, closed: once(socket, 'close').then(() => undefined) };
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/** SSLRequest, then wait for the gateway's 'S'. */
async function sslRequested(port: number): Promise<net.Socket> {
  const s = await connect(port);
  s.write(serialize.requestSsl());
  const answer = await new Promise<Buffer>((resolve, reject) => {
    s.once('data', resolve);
    s.once('close', () => reject(new Error('the gateway closed the connection before answering SSLRequest')));
  });
  assert.equal(answer.toString(), 'S');
  return s;
}

/** A real TLS ClientHello (what node:tls sends first), captured from a listener that never answers. */
async function captureClientHello(): Promise<Buffer> {
  const sink = net.createServer();
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  const got = new Promise<Buffer>((resolve) => sink.once('connection', (c) => c.once('data', resolve)));
  const t = tls.connect({ host: '127.0.0.1', port: (sink.address() as net.AddressInfo).port, rejectUnauthorized: false });
  t.on('error', () => {});
  const hello = await got;
  t.destroy();
  sink.close();
  return hello;
}

describe('postgres gateway handshakes settle', () => {
  let certDir: string;
  let cert: { cert: string; key: string };
  let hello: Buffer;

  before(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'stint-gw-hs-'));
    cert = selfSignedCert(certDir);
    hello = await captureClientHello();
  });
  after(() => rmSync(certDir, { recursive: true, force: true }));

  it('close() resolves with clients holding on at every step of the handshake, and disconnects them', async () => {
    const gw = handshakeOnlyGateway(cert);
    const { port } = await gw.listen();
    const held: Held[] = [];
    // SSLRequest, 'S' read, no TLS handshake.
    held.push(track(await sslRequested(port)));
    // SSLRequest, then a ClientHello, then nothing (the server's answer is never read on).
    const ch = await sslRequested(port);
    ch.write(hello);
    held.push(track(ch));
    // Connected, nothing sent.
    held.push(track(await connect(port)));
    // Half a startup packet.
    const half = await connect(port);
    half.write(Buffer.from([0, 0, 0, 40, 0, 3]));
    held.push(track(half));
    // TLS done, startup sent, the password never comes.
    const raw = await sslRequested(port);
    const t = tls.connect({ socket: raw, rejectUnauthorized: false });
    t.on('error', () => {});
    await once(t, 'secureConnect');
    t.write(startupMessage({ user: 'alice', database: 'pg-read' }));
    await once(t, 'data');
    held.push(track(raw));

    await until('every connection is in its handshake', () => gw.pending().handshakes === 5);
    await gw.close();
    await Promise.all(held.map((h) => h.closed));
    assert.deepEqual(gw.pending(), { sockets: 0, handshakes: 0 });
  });

  it('a client that reads S and leaves settles its handshake at once (nothing tracked is left)', async () => {
    const gw = handshakeOnlyGateway(cert);
    const { port } = await gw.listen();
    try {
      const s = await sslRequested(port);
      s.destroy();
      const c = await sslRequested(port);
      c.write(hello);
      c.destroy();
      await until('handshakes settled', () => gw.pending().handshakes === 0 && gw.pending().sockets === 0);
    } finally {
      await gw.close();
    }
  });

  it('500 half-open handshakes, then dropped: the count of tracked handshakes and sockets returns to 0', async () => {
    const gw = handshakeOnlyGateway(cert);
    const { port } = await gw.listen();
    try {
      const clients: net.Socket[] = [];
      for (let i = 0; i < 500; i += 50) {
        // 50 at a time: the listen backlog is not what is tested here.
        clients.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => ((i + j) % 2 === 0 ? sslRequested(port) : connect(port))))));
      }
      await until('500 handshakes under way', () => gw.pending().handshakes === 500);
      for (const c of clients) c.destroy();
      await until('all settled', () => gw.pending().handshakes === 0 && gw.pending().sockets === 0);
    } finally {
      await gw.close();
    }
  });

  it("close() waits at most closeTimeoutMs for a login whose work after the client's part never finishes", async () => {
    let release!: () => void;
    // The token check stands for any work after the password (admission, provisioning, the target login).
    const stuck = new Promise<undefined>((r) => (release = () => r(undefined)));
    let asked = false;
    const gw = handshakeOnlyGateway(cert, { tokens: { authenticateGateway: () => ((asked = true), stuck) }, closeTimeoutMs: 500 });
    const { port } = await gw.listen();
    const raw = await sslRequested(port);
    const t = tls.connect({ socket: raw, rejectUnauthorized: false });
    t.on('error', () => {});
    await once(t, 'secureConnect');
    t.write(startupMessage({ user: 'alice', database: 'pg-read' }));
    await once(t, 'data');
    t.write(serialize.password('stint_token'));
    await until("the login is past the client's part", () => asked);
    await gw.close();
    assert.equal(gw.pending().handshakes, 1, 'close() returned with the login still under way');
    release();
    await until('the login settles once its work ends', () => gw.pending().handshakes === 0);
  });

  it('the handshake deadline disconnects a client that holds on', async () => {
    const gw = handshakeOnlyGateway(cert, { handshakeTimeoutMs: 5000 });
    const { port } = await gw.listen();
    try {
      const a = track(await sslRequested(port));
      const b = track(await connect(port));
      await Promise.all([a.closed, b.closed]);
      await until('settled', () => gw.pending().handshakes === 0 && gw.pending().sockets === 0);
    } finally {
      await gw.close();
    }
  });
});

describe('the broker exits on SIGTERM with gateway clients holding on', () => {
  let target: TestTarget;
  let root: string;

  before(async () => {
    target = await createTestTarget();
    root = await mkdtemp(join(tmpdir(), 'stint-gw-sigterm-'));
  });
  after(async () => {
    await target?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('SSLRequest+disconnect, SSLRequest+hold, ClientHello+hold and a silent client: stint server exits 0 on SIGTERM', async () => {
    const dataDir = join(root, 'data');
    await mkdir(dataDir);
    const cert = selfSignedCert(root);
    await writeFile(join(root, 'gw.crt'), cert.cert);
    await writeFile(join(root, 'gw.key'), cert.key, { mode: 0o600 });
    const configPath = await writeBrokerConfig(dataDir, target);
    const gwPort = await freePort();
    const text = await readFile(configPath, 'utf8');
    await writeFile(
      configPath,
      `gateways:\n  postgres: { listen: "127.0.0.1:${gwPort}", tlsCert: ${JSON.stringify(join(root, 'gw.crt'))}, tlsKey: ${JSON.stringify(join(root, 'gw.key'))} }\n${text}`,
    );
    const b = await startChildBroker({ configPath, dataDir });
    try {
      const hello = await captureClientHello();
      const left = await sslRequested(gwPort);
      left.destroy();
      const held = [track(await sslRequested(gwPort)), track(await connect(gwPort))];
      const ch = await sslRequested(gwPort);
      ch.write(hello);
      held.push(track(ch));
      b.proc.kill('SIGTERM');
      let giveUp: NodeJS.Timeout | undefined;
      const exit = await Promise.race([b.exited, new Promise<null>((r) => (giveUp = setTimeout(() => r(null), 120_000)))]);
      clearTimeout(giveUp);
      assert.ok(exit, `the broker did not exit within 120 s of SIGTERM:\n${b.stderr()}`);
      assert.deepEqual(exit, { code: 0, signal: null }, b.stderr());
      assert.match(b.stderr(), /stint broker stopping/);
      await Promise.all(held.map((h) => h.closed));
    } finally {
      if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
      await b.exited;
    }
  });

  it("the broker's close() is bounded: a part that never finishes is logged and left behind", async () => {
    const dataDir = join(root, 'data-bound');
    await mkdir(dataDir);
    const cert = selfSignedCert(root);
    await writeFile(join(root, 'gw2.crt'), cert.cert);
    await writeFile(join(root, 'gw2.key'), cert.key, { mode: 0o600 });
    const configPath = await writeBrokerConfig(dataDir, target);
    const text = await readFile(configPath, 'utf8');
    await writeFile(
      configPath,
      `gateways:\n  postgres: { listen: "127.0.0.1:0", tlsCert: ${JSON.stringify(join(root, 'gw2.crt'))}, tlsKey: ${JSON.stringify(join(root, 'gw2.key'))} }\n${text}`,
    );
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    });
    const app = await createApp({ configPath, dataDir, logger, env: { STINT_MASTER_KEY: Buffer.alloc(32, 5).toString('base64') }, shutdownTimeoutMs: 500 });
    await app.listen('127.0.0.1', 0);
    const gw = app.postgresGateway!;
    const realClose = gw.close.bind(gw);
    // A part of the shutdown that never finishes (until released below).
    let release!: () => void;
    gw.close = () => new Promise<void>((r) => (release = r)).then(realClose);
    await app.close();
    assert.ok(
      lines.some((l) => l.includes('shutdown did not finish in time')),
      lines.join(''),
    );
    // Let the rest of the shutdown run, so that this process can exit.
    release();
    await until('the rest shut down', () => !gw.pending().sockets && !app.postgresGateway?.liveCount());
  });
});
