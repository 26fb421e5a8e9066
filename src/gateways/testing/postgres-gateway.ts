// PostgreSQL gateways for tests: one over a test broker's services (the
// real thing, on a free loopback port, TLS required), and one whose
// handshakes never reach a token check (TLS and handshake tests need nothing
// else).

import { join } from 'node:path';
import { nullLogger } from '../../core/ports.js';
import type { TestBroker } from '../../testing/broker.js';
import { createPostgresGateway, type PostgresGateway, type PostgresGatewayDeps } from '../postgres/gateway.js';

/** A gateway over `broker`'s services: sessions recorded in its data dir (`sessions` unless `sessionDir`). */
export function brokerGateway(broker: TestBroker, tls: { cert: string; key: string }, extra: Partial<PostgresGatewayDeps> = {}): PostgresGateway {
  const app = broker.app;
  return createPostgresGateway({
    tokens: app.tokens,
    requests: app.requests,
    grants: app.grants,
    catalog: () => app.catalog,
    store: app.store,
    clock: { now: () => Date.now() },
    log: nullLogger,
    tls: { cert: tls.cert, key: tls.key },
    listen: { host: '127.0.0.1', port: 0 },
    sessionDir: join(broker.dataDir, 'sessions'),
    requireTls: true,
    ...extra,
  });
}

/** A gateway whose handshakes never get as far as a token check: nothing else is needed. */
export function handshakeOnlyGateway(tls: PostgresGatewayDeps['tls'], extra: Partial<PostgresGatewayDeps> = {}): PostgresGateway {
  const unused = new Proxy({}, { get: () => () => Promise.reject(new Error('not reached in these tests')) });
  return createPostgresGateway({
    tokens: { authenticateGateway: async () => undefined },
    requests: unused as never,
    grants: unused as never,
    catalog: () => {
      throw new Error('not reached');
    },
    store: unused as never,
    clock: { now: () => Date.now() },
    log: nullLogger,
    tls,
    listen: { host: '127.0.0.1', port: 0 },
    sessionDir: '/nonexistent',
    requireTls: true,
    // Far away: these tests show handshakes settle on close, on the client leaving or on TLS, not on the deadline.
    handshakeTimeoutMs: 3_600_000,
    ...extra,
  });
}
