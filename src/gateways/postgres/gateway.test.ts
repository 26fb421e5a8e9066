import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPostgresGateway, isLoopback, type PostgresGatewayDeps } from './gateway.js';

const base = {
  tokens: {}, requests: {}, grants: {}, catalog: () => ({}), store: {}, clock: { now: () => 0 },
  log: { info() {}, warn() {}, error() {}, debug() {} }, sessionDir: '/nonexistent',
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
