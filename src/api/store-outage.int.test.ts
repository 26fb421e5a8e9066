// The store's PostgreSQL goes down under a running broker: the API answers
// 503 `unavailable` (not 500 `internal`, which means a bug), the real CLI
// exits 7, and once the store is back the same broker answers 200 again.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../embedded/postgres.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { runBinary } from '../cli/testing/fake-api.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  let v = await fn();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await sleep(100);
    v = await fn();
  }
  return v;
}

describe('store outage', () => {
  let storeServer: EmbeddedPostgresServer;
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;
  let alice: string;

  before(async () => {
    storeServer = await startEmbeddedPostgres({ unref: true });
    const c = new pg.Client({ connectionString: storeServer.url() });
    await c.connect();
    await c.query('CREATE DATABASE stint_store');
    await c.end();
    target = await createTestTarget();
    broker = await startTestBroker({
      target,
      env: { STINT_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), STINT_STORE_URL: storeServer.url('stint_store') },
    });
    url = await broker.app.listen('127.0.0.1', 0);
    alice = await broker.token('alice');
  });
  after(async () => {
    await broker?.close().catch(() => {});
    await storeServer?.destroy();
    await target?.drop();
  });

  const cli = (...args: string[]) => runBinary(args, { PATH: process.env.PATH, HOME: process.env.HOME, STINT_SERVER: url, STINT_TOKEN: alice });

  it('answers 503 unavailable while the store is down, the CLI exits 7, and 200 once it is back', async () => {
    assert.equal((await broker.call(alice, 'GET', '/v1/grants')).status, 200);
    await storeServer.stop();
    try {
      for (const [method, path, body] of [
        ['GET', '/v1/grants', undefined],
        ['POST', '/v1/requests', { profile: 'pg-read', duration: '5m' }],
        ['GET', '/v1/requests/req_aaaaaaaaaaaa', undefined],
      ] as const) {
        const r = await broker.call(alice, method, path, body);
        assert.equal(r.status, 503, `${method} ${path}: ${r.raw}`);
        assert.equal(r.body.error.code, 'unavailable');
        assert.match(r.body.error.message, /^Stint's store is unavailable \(.+\); try again shortly$/);
        assert.match(r.body.error.requestId, /^r-[0-9a-f]{12}$/);
      }
      const health = await broker.app.api.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 503);

      const grants = await cli('grants');
      assert.equal(grants.code, 7, grants.stderr);
      assert.match(grants.stderr, /store is unavailable/);
      const request = await cli('request', 'pg-read', '--for', '5m', '--json');
      assert.equal(request.code, 7, request.stdout);
      assert.equal(JSON.parse(request.stdout).error.code, 'unavailable');

      const warned = broker.logs.filter((l) => l.includes('"store unavailable"'));
      assert.ok(warned.length > 0, 'logged as an outage');
      assert.equal(
        broker.logs.some((l) => l.includes('"request failed"')),
        false,
        'not logged as a bug',
      );
    } finally {
      await storeServer.start();
    }
    await until(
      'the API to answer again',
      async () => (await broker.call(alice, 'GET', '/v1/grants')).status,
      (s) => s === 200,
    );
    const ok = await cli('request', 'pg-read', '--for', '5m', '--json');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).grant.status, 'active');
  });

  it('connections the server ends (pg_terminate_backend) are an outage too, and new ones work', async () => {
    const c = new pg.Client({ connectionString: storeServer.url() });
    await c.connect();
    try {
      // Refuse new connections to the store database, then end the broker's.
      await c.query('ALTER DATABASE stint_store ALLOW_CONNECTIONS false');
      await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'stint_store' AND pid <> pg_backend_pid()");
      const r = await until(
        'a 503',
        async () => broker.call(alice, 'GET', '/v1/grants'),
        (x) => x.status !== 200,
      );
      assert.equal(r.status, 503, r.raw);
      assert.equal(r.body.error.code, 'unavailable');
    } finally {
      await c.query('ALTER DATABASE stint_store ALLOW_CONNECTIONS true');
      await c.end();
    }
    await until(
      'the API to answer again',
      async () => (await broker.call(alice, 'GET', '/v1/grants')).status,
      (s) => s === 200,
    );
  });
});
