// TLS on the PostgreSQL gateway (issue 12, item 3): the real sslscan, through
// PostgreSQL's STARTTLS (SSLRequest), must find only forward-secret AEAD
// suites on TLS 1.2 and 1.3, nothing older, and no renegotiation; node:tls
// clients show a CBC or RSA-key-exchange suite refused, TLS 1.3 working,
// minVersion TLSv1.3 refusing a 1.2-only client, and a renegotiation attempt
// ending the connection. sslscan is required: scripts/test.sh installs it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { serialize } from 'pg-protocol';
import type { PostgresGateway } from './gateway.js';
import { handshakeOnlyGateway } from '../testing/postgres-gateway.js';
import { selfSignedCert } from '../testing/tls-cert.js';
import type { TlsMinVersion } from './tls-settings.js';

const cert = (dir: string, kind: 'rsa' | 'ec') => selfSignedCert(dir, kind);
const gateway = (c: { cert: string; key: string }, minVersion?: TlsMinVersion): PostgresGateway => handshakeOnlyGateway({ ...c, minVersion });

/** SSLRequest, 'S', then a TLS client with `opts` over it. Resolves with the TLS socket once secure; rejects on a failed handshake. */
async function tlsOverStartTls(port: number, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const raw = net.connect({ host: '127.0.0.1', port });
  raw.on('error', () => {});
  await once(raw, 'connect');
  raw.write(serialize.requestSsl());
  const [answer] = (await once(raw, 'data')) as [Buffer];
  assert.equal(answer.toString(), 'S');
  const t = tls.connect({ socket: raw, rejectUnauthorized: false, ...opts });
  try {
    await once(t, 'secureConnect');
  } catch (err) {
    raw.destroy();
    throw err;
  }
  return t;
}

function sslscan(port: number): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      'sslscan',
      ['--xml=-', '--no-colour', '--starttls-psql', `127.0.0.1:${port}`],
      { maxBuffer: 16 << 20, timeout: 300_000 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(
            new Error('sslscan is not installed: run scripts/test.sh (it installs it) or apt-get install -y sslscan. This test is required, not optional.'),
          );
        } else if (err) reject(new Error(`sslscan failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    ),
  );
}

const attr = (tag: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1] ?? '';

describe('postgres gateway TLS', () => {
  let dir: string;
  let rsa: { cert: string; key: string };
  let ec: { cert: string; key: string };
  const gateways: PostgresGateway[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'stint-gw-tls-'));
    rsa = cert(dir, 'rsa');
    ec = cert(dir, 'ec');
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function started(c: { cert: string; key: string }, minVersion?: TlsMinVersion): Promise<number> {
    const g = gateway(c, minVersion);
    gateways.push(g);
    return (await g.listen()).port;
  }

  it('sslscan --starttls-psql: only forward-secret AEAD suites, only TLS 1.2 and 1.3, no renegotiation (RSA certificate)', async () => {
    // An RSA certificate is where RSA key exchange and ECDHE-RSA-…-CBC suites would show up.
    const port = await started(rsa);
    const xml = await sslscan(port);
    assert.doesNotMatch(xml, /<error>/, xml);

    const protocols = [...xml.matchAll(/<protocol\b[^>]*\/>/g)].map((m) => ({
      type: attr(m[0], 'type'),
      version: attr(m[0], 'version'),
      enabled: attr(m[0], 'enabled') === '1',
    }));
    assert.ok(protocols.length >= 5, `sslscan listed the protocols:\n${xml}`);
    const enabled = protocols
      .filter((p) => p.enabled)
      .map((p) => `${p.type}${p.version}`)
      .sort();
    assert.deepEqual(enabled, ['tls1.2', 'tls1.3']);

    const reneg = /<renegotiation\b[^>]*\/>/.exec(xml)?.[0];
    assert.ok(reneg, `sslscan reported on renegotiation:\n${xml}`);
    assert.equal(attr(reneg, 'supported'), '0', reneg);

    const ciphers = [...xml.matchAll(/<cipher\b[^>]*\/>/g)].map((m) => ({
      status: attr(m[0], 'status'),
      version: attr(m[0], 'sslversion'),
      name: attr(m[0], 'cipher'),
    }));
    const accepted = ciphers.filter((c) => c.status === 'accepted' || c.status === 'preferred');
    assert.ok(accepted.some((c) => c.version === 'TLSv1.2') && accepted.some((c) => c.version === 'TLSv1.3'), `suites on both versions:\n${xml}`);
    const bad = accepted.filter((c) => {
      if (c.version === 'TLSv1.3') return !/^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/.test(c.name);
      if (c.version !== 'TLSv1.2') return true;
      // Forward secret (ECDHE) and AEAD (GCM, ChaCha20-Poly1305): no RSA key exchange, no CBC, no SHA-1 MAC.
      return !/^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/.test(c.name);
    });
    assert.deepEqual(bad, [], `suites that are not forward-secret AEAD:\n${JSON.stringify(bad, null, 1)}`);
    assert.ok(accepted.every((c) => !/CBC|-SHA$|^AES|^DHE|^RSA/.test(c.name)));
  });

  it('a client forcing RSA key exchange or CBC is refused; TLS 1.3 and ECDHE-GCM on 1.2 work', async () => {
    const rsaPort = await started(rsa);
    await assert.rejects(tlsOverStartTls(rsaPort, { ciphers: 'AES128-SHA', maxVersion: 'TLSv1.2' }), /handshake failure|no shared cipher|alert/i);
    await assert.rejects(tlsOverStartTls(rsaPort, { ciphers: 'AES256-GCM-SHA384', maxVersion: 'TLSv1.2' }), /handshake failure|no shared cipher|alert/i);
    await assert.rejects(tlsOverStartTls(rsaPort, { ciphers: 'ECDHE-RSA-AES128-SHA', maxVersion: 'TLSv1.2' }), /handshake failure|no shared cipher|alert/i);
    const t12 = await tlsOverStartTls(rsaPort, { maxVersion: 'TLSv1.2' });
    assert.equal(t12.getProtocol(), 'TLSv1.2');
    assert.match(t12.getCipher().name, /^ECDHE-RSA-(AES256-GCM-SHA384|CHACHA20-POLY1305|AES128-GCM-SHA256)$/);
    t12.destroy();
    const t13 = await tlsOverStartTls(await started(ec), {});
    assert.equal(t13.getProtocol(), 'TLSv1.3');
    t13.destroy();
  });

  it('tls.minVersion TLSv1.3 refuses a client that speaks at most TLS 1.2', async () => {
    const port = await started(ec, 'TLSv1.3');
    await assert.rejects(tlsOverStartTls(port, { maxVersion: 'TLSv1.2' }), /protocol version|alert|unsupported/i);
    const ok = await tlsOverStartTls(port, {});
    assert.equal(ok.getProtocol(), 'TLSv1.3');
    ok.destroy();
  });

  it('a client-initiated renegotiation ends the connection', async () => {
    const port = await started(ec);
    const t = await tlsOverStartTls(port, { maxVersion: 'TLSv1.2' });
    // The client may see the server's no_renegotiation alert as an error first: only the close matters here.
    t.on('error', () => {});
    const closed = new Promise<void>((resolve) => t.once('close', () => resolve()));
    const done = new Promise<Error | null>((resolve) => {
      if (!t.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err))) resolve(new Error('renegotiate() refused on the client side'));
    });
    // The server refuses (SSL_OP_NO_RENEGOTIATION) and closes the connection; the renegotiation never completes.
    await closed;
    const outcome = await Promise.race([done, Promise.resolve('pending' as const)]);
    assert.notEqual(outcome, null, 'the renegotiation did not succeed');
  });
});
