import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gatewaysSchema } from '../../config/schema.js';
import { createPostgresGateway, isLoopback, type PostgresGatewayDeps } from './gateway.js';

const base = {
  tokens: {},
  requests: {},
  grants: {},
  catalog: () => ({}),
  store: {},
  clock: { now: () => 0 },
  log: { info() {}, warn() {}, error() {}, debug() {} },
  sessionDir: '/nonexistent',
} as unknown as Omit<PostgresGatewayDeps, 'tls' | 'listen' | 'requireTls'>;

describe('postgres gateway settings', () => {
  it('a token is never asked for in cleartext off loopback: requireTls false only on a loopback listener', () => {
    assert.throws(() => createPostgresGateway({ ...base, tls: null, requireTls: false, listen: { host: '0.0.0.0', port: 0 } }), /loopback/);
    assert.throws(() => createPostgresGateway({ ...base, tls: null, requireTls: false, listen: { host: '10.0.0.1', port: 0 } }), /loopback/);
    assert.doesNotThrow(() => createPostgresGateway({ ...base, tls: null, requireTls: false, listen: { host: '127.0.0.1', port: 0 } }));
  });

  it('requireTls needs a certificate', () => {
    assert.throws(() => createPostgresGateway({ ...base, tls: null, requireTls: true, listen: { host: '127.0.0.1', port: 0 } }), /certificate/);
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.1', '127.0.0.1.evil.com']) assert.equal(isLoopback(h), false, h);
  });
});

describe('gateways.postgres TLS and handshake settings', () => {
  const parse = (extra: Record<string, unknown>) => gatewaysSchema.safeParse({ postgres: { listen: '127.0.0.1:6432', ...extra } });
  it('tls.minVersion is TLSv1.2 or TLSv1.3; handshakeTimeout is 1s to 5m', () => {
    for (const ok of [
      { tls: { minVersion: 'TLSv1.2' } },
      { tls: { minVersion: 'TLSv1.3' } },
      { tls: {} },
      { handshakeTimeout: '1s' },
      { handshakeTimeout: '10s' },
      { handshakeTimeout: '5m' },
    ]) {
      assert.equal(parse(ok).success, true, JSON.stringify(ok));
    }
    for (const bad of [
      { tls: { minVersion: 'TLSv1.1' } },
      { tls: { minVersion: 'TLSv1' } },
      { tls: { ciphers: 'ALL' } },
      { handshakeTimeout: '500ms' },
      { handshakeTimeout: '6m' },
      { handshakeTimeout: 'soon' },
    ]) {
      assert.equal(parse(bad).success, false, JSON.stringify(bad));
    }
  });
});
