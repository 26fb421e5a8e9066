// POST /v1/reconcile and `stint reconcile` (the real binary) against a real
// broker and target. app.ts does not wire reconcile yet, so a second API is
// built here from the broker's pieces with the service added.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApi } from '../../api/server.js';
import { closedPort, runBinary } from '../../cli/testing/fake-api.js';
import { createPostgresConnector } from '../../connectors/postgres/module.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import { createAuditService } from '../audit/audit-service.js';
import type { Connector } from '../ports.js';
import { nullLogger, systemClock } from '../ports.js';
import type { Catalog } from '../types.js';
import { createReconcileService, type ReconcileService } from './reconcile-service.js';

describe('reconcile over HTTP and the CLI', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let api: FastifyInstance;
  let url: string;
  let service: ReconcileService;
  let current: Pick<ReconcileService, 'reconcile'>;
  let down: Connector;
  const bystander = () => `bystander_${target.suffix}`;

  const apiWith = (reconcile: Pick<ReconcileService, 'reconcile'> | undefined) => {
    const { app } = broker;
    return buildApi({
      version: 'test',
      catalog: () => app.catalog,
      store: app.store,
      clock: systemClock,
      connectors: app.connectors,
      requests: app.requests,
      grants: app.grants,
      tokens: app.tokens,
      signIns: app.signIns,
      keys: app.keys,
      audit: createAuditService({ store: app.store }),
      checkpoints: app.checkpoints,
      metrics: { contentType: 'text/plain', render: async () => '' },
      ...(reconcile ? { reconcile } : {}),
    });
  };
  const cli = (token: string, ...args: string[]) =>
    runBinary(args, { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', STINT_SERVER: url, STINT_TOKEN: token });

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
    const { app } = broker;
    service = createReconcileService({ store: app.store, catalog: () => app.catalog, connectors: app.connectors, clock: systemClock, log: nullLogger });
    current = service;
    api = await apiWith({ reconcile: (input) => current.reconcile(input) });
    await api.listen({ host: '127.0.0.1', port: 0 });
    const addr = api.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    await target.superQuery(
      `CREATE ROLE ${pg.escapeIdentifier(bystander())} LOGIN; GRANT ${pg.escapeIdentifier(target.readRole)} TO ${pg.escapeIdentifier(bystander())}`,
    );
    down = createPostgresConnector({
      target: 'pg-down',
      adminUser: 'nobody',
      adminSecret: 'never-used-secret',
      settings: { host: '127.0.0.1', port: await closedPort(), database: 'x', connectTimeoutMs: 2000 },
    });
  });
  after(async () => {
    await api?.close();
    await down?.close();
    await broker?.close();
    await target?.superQuery(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(bystander())}`).catch(() => {});
    await target?.drop();
  });

  it('without a reconcile service the route answers 503; non-admins get 403', async () => {
    const bare = await apiWith(undefined);
    try {
      const r = await bare.inject({
        method: 'POST',
        url: '/v1/reconcile',
        headers: { authorization: `Bearer ${broker.adminToken}`, 'content-type': 'application/json' },
        payload: '{}',
      });
      assert.equal(r.statusCode, 503);
      assert.equal(r.json().error.code, 'target_unavailable');
      assert.match(r.json().error.message, /reconcile is not configured/);
    } finally {
      await bare.close();
    }
    const alice = await broker.token('alice');
    const r = await api.inject({
      method: 'POST',
      url: '/v1/reconcile',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      payload: '{}',
    });
    assert.equal(r.statusCode, 403);
  });

  it('validates the body, answers 404 for an unknown target, and is in the OpenAPI document', async () => {
    const admin = { authorization: `Bearer ${broker.adminToken}` };
    const post = (payload: unknown) =>
      api.inject({ method: 'POST', url: '/v1/reconcile', headers: { ...admin, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
    assert.equal((await post({ target: 'x"; DROP ROLE admin; --' })).statusCode, 400);
    assert.equal((await post({ dryRun: 'yes' })).statusCode, 400);
    assert.equal((await post({ extra: 1 })).statusCode, 400);
    const nope = await post({ target: 'nope' });
    assert.equal(nope.statusCode, 404);
    assert.match(nope.json().error.message, /nope/);
    const noBody = await api.inject({ method: 'POST', url: '/v1/reconcile', headers: admin });
    assert.equal(noBody.statusCode, 200, noBody.body);
    assert.equal(noBody.json().dryRun, false);
    const doc = (await api.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
    assert.ok(doc.paths['/v1/reconcile'].post.requestBody);
  });

  it('stint reconcile --json --dry-run reports drift and standing; without --dry-run it removes the drift', async () => {
    const orphan = `stint_orphan_${target.suffix}`;
    await broker.app.connectors
      .get('pg')
      .createAccount({ account: orphan, secret: 'orphan-secret-1234', grants: [target.readRole], expiresAt: new Date(Date.now() + 3_600_000) });

    const dry = await cli(broker.adminToken, 'reconcile', '--json', '--dry-run', '--target', 'pg');
    assert.equal(dry.code, 0, dry.stderr);
    const report = JSON.parse(dry.stdout);
    assert.equal(report.dryRun, true);
    const t = report.targets[0];
    assert.equal(t.target, 'pg');
    assert.ok(!Number.isNaN(Date.parse(t.checkedAt)));
    assert.deepEqual(t.driftRemoved, [{ account: orphan, removed: false, existed: null, terminatedSessions: 0 }]);
    assert.deepEqual(t.standing, [{ principal: bystander(), grant: target.readRole, how: 'direct', via: [], grantedByStint: false }]);
    assert.equal(await target.roleExists(orphan), true);

    const human = await cli(broker.adminToken, 'reconcile');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`drift: removed account ${orphan}`));
    assert.match(human.stdout, /PRINCIPAL\s+GRANT\s+HOW/);
    assert.match(human.stdout, new RegExp(`${bystander()}\\s+${target.readRole}\\s+direct member`));
    assert.equal(await target.roleExists(orphan), false);
    assert.equal((await broker.app.store.listAudit({ action: 'reconcile.drift-removed' }))[0]?.actor, 'admin');

    const alice = await broker.token('alice');
    assert.equal((await cli(alice, 'reconcile')).code, 3, 'admins only');
    assert.equal((await cli(broker.adminToken, 'reconcile', '--target', 'bad name')).code, 2);
  });

  it('exits 7 when a target is unreachable, still reporting the others', async () => {
    const base = broker.app.catalog;
    const catalog: Catalog = { ...base, targets: new Map([...base.targets, ['pg-down', { ...base.targets.get('pg')!, name: 'pg-down' }]]) };
    current = createReconcileService({
      store: broker.app.store,
      catalog: () => catalog,
      clock: systemClock,
      log: nullLogger,
      connectors: { get: (name) => (name === 'pg-down' ? down : broker.app.connectors.get(name)) },
    });
    try {
      const json = await cli(broker.adminToken, 'reconcile', '--json');
      assert.equal(json.code, 7, json.stderr);
      const by = new Map<string, { reachable: boolean; errors: unknown[] }>(JSON.parse(json.stdout).targets.map((t: { target: string }) => [t.target, t]));
      assert.equal(by.get('pg')!.reachable, true);
      assert.equal(by.get('pg-down')!.reachable, false);
      const human = await cli(broker.adminToken, 'reconcile', '--dry-run');
      assert.equal(human.code, 7);
      assert.match(human.stdout, /pg-down \(postgres\)[^\n]*\n\s+unreachable: /);
      assert.match(human.stderr, /did not finish on pg-down/);
    } finally {
      current = service;
    }
  });
});
