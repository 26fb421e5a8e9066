// Reconcile against a real PostgreSQL target and a real broker: drift is
// removed (or only reported in a dry run), standing privileges are reported
// and untouched, vanished access is flagged, own-account memberships Stint
// granted without a grant are revoked, a live grant's account is never
// removed (even with grants issued concurrently), and an unreachable target
// is an entry in the report, not an exception.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Connector } from '../../connectors/contract.js';
import { createPostgresConnector } from '../../connectors/postgres/module.js';
import { closedPort } from '../../cli/testing/fake-api.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import type { ConnectorRegistry } from '../ports.js';
import { nullLogger, systemClock } from '../ports.js';
import type { Catalog } from '../types.js';
import { createReconcileService, type ReconcileService, type TargetReport } from './reconcile-service.js';

describe('reconcile against a real target', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let connector: Connector;
  let service: ReconcileService;
  /** Roles a test created by hand on the (cluster-wide) server; dropped at the end. */
  const handMade: string[] = [];
  const id = pg.escapeIdentifier;

  const pgReport = async (dryRun: boolean): Promise<TargetReport> => {
    const r = await service.reconcile({ target: 'pg', dryRun, actor: 'tester' });
    assert.equal(r.targets.length, 1);
    const t = r.targets[0]!;
    assert.deepEqual(t.errors, [], 'no errors');
    return t;
  };
  const audit = (action: string) => broker.app.store.listAudit({ action, target: 'pg' });
  const newRole = async (name: string, sql: string) => {
    handMade.push(name);
    await target.superQuery(sql);
  };

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
    connector = broker.app.connectors.get('pg');
    service = createReconcileService({
      store: broker.app.store,
      catalog: () => broker.app.catalog,
      connectors: broker.app.connectors,
      clock: systemClock,
      log: nullLogger,
    });
  });
  after(async () => {
    await broker?.close();
    for (const n of handMade.reverse()) await target.superQuery(`DROP ROLE IF EXISTS ${id(n)}`).catch(() => {});
    await target?.drop();
  });

  it('a marked account without a grant: a dry run reports it and removes nothing; a real run removes and audits it', async () => {
    const orphan = `stint_orphan_${target.suffix}`;
    await connector.createAccount({ account: orphan, secret: 'orphan-secret-1234', grants: [target.readRole], expiresAt: new Date(Date.now() + 3_600_000) });
    assert.equal(await target.roleExists(orphan), true);

    const dry = await pgReport(true);
    assert.equal(dry.dryRun, true);
    assert.ok(dry.managedAccounts >= 1);
    assert.deepEqual(
      dry.driftRemoved.filter((d) => d.account === orphan),
      [{ account: orphan, removed: false, existed: null, terminatedSessions: 0 }],
    );
    assert.equal(await target.roleExists(orphan), true, 'dry run removed nothing');
    assert.equal((await audit('reconcile.drift-removed')).length, 0, 'dry run audited nothing');

    const real = await pgReport(false);
    assert.deepEqual(
      real.driftRemoved.filter((d) => d.account === orphan),
      [{ account: orphan, removed: true, existed: true, terminatedSessions: 0 }],
    );
    assert.equal(await target.roleExists(orphan), false);
    const events = await audit('reconcile.drift-removed');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.actor, 'tester');
    assert.deepEqual(events[0]!.details, { account: orphan, target: 'pg', existed: true, terminatedSessions: 0 });

    const again = await pgReport(false);
    assert.deepEqual(again.driftRemoved, [], 'nothing left to remove');
  });

  it('unmarked roles holding a profile role (directly or through a group) are standing privileges, reported and untouched', async () => {
    const bystander = `bystander_${target.suffix}`;
    const team = `team_${target.suffix}`;
    const member = `member_${target.suffix}`;
    await newRole(bystander, `CREATE ROLE ${id(bystander)} LOGIN; GRANT ${id(target.readRole)} TO ${id(bystander)}`);
    await newRole(team, `CREATE ROLE ${id(team)} NOLOGIN; GRANT ${id(target.adminRole)} TO ${id(team)}`);
    await newRole(member, `CREATE ROLE ${id(member)} LOGIN IN ROLE ${id(team)}`);

    const r = await pgReport(false);
    const mine = r.standing.filter((s) => [bystander, team, member].includes(s.principal));
    assert.deepEqual(mine, [
      { principal: bystander, grant: target.readRole, how: 'direct', via: [], grantedByStint: false },
      { principal: member, grant: target.adminRole, how: 'inherited', via: [team], grantedByStint: false },
      { principal: team, grant: target.adminRole, how: 'direct', via: [], grantedByStint: false },
    ]);
    assert.ok(!r.standing.some((s) => s.principal === target.adminUser), 'the broker admin is not standing');
    assert.ok(!r.standing.some((s) => s.principal === target.marker), 'nor is the marker');
    assert.deepEqual(r.driftRemoved, []);
    assert.deepEqual(r.driftRevoked, []);
    assert.deepEqual(await target.memberOf(bystander), [target.readRole]);
    assert.deepEqual(await target.memberOf(team), [target.adminRole]);
    assert.deepEqual(await target.memberOf(member), [team]);
  });

  it('an active grant whose role was dropped by hand is flagged (audited once per run) and left as it is', async () => {
    const alice = await broker.token('alice');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' })).body.grant;
    assert.equal(g.status, 'active');
    const clean = await pgReport(true);
    assert.ok(!clean.accountMissing.some((m) => m.grantId === g.id), 'not missing while it exists');
    assert.ok(!clean.driftRemoved.some((d) => d.account === g.account), "a live grant's account is not drift");

    await target.superQuery(`DROP ROLE ${id(g.account)}`);
    const dry = await pgReport(true);
    assert.deepEqual(
      dry.accountMissing.filter((m) => m.grantId === g.id).map((m) => [m.account, m.problem]),
      [[g.account, 'account']],
    );
    assert.equal((await audit('reconcile.account-missing')).length, 0, 'a dry run audits nothing');

    const real = await pgReport(false);
    assert.deepEqual(
      real.accountMissing.map((m) => m.grantId),
      [g.id],
    );
    const events = await audit('reconcile.account-missing');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.grantId, g.id);
    assert.equal(events[0]!.subjectUser, 'alice');
    assert.equal((await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant.status, 'active', 'the grant is not changed');
    await pgReport(false);
    assert.equal((await audit('reconcile.account-missing')).length, 2, 'once per grant per run');
    assert.equal((await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`)).body.grant.status, 'revoked');
  });

  it('an own-account grant whose role was revoked by hand is flagged with the missing role', async () => {
    const alice = await broker.token('alice');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-auto', duration: '10m' })).body.grant;
    assert.equal(g.status, 'active');
    assert.equal((await pgReport(true)).accountMissing.length, 0);
    await target.superQuery(`REVOKE ${id(target.adminRole)} FROM ${id(target.own.name)} GRANTED BY ${id(target.adminUser)}`);
    const r = await pgReport(true);
    assert.deepEqual(r.accountMissing, [
      {
        grantId: g.id,
        user: 'alice',
        profile: 'pg-dba-auto',
        account: target.own.name,
        mode: 'own-account',
        problem: 'grants',
        missingGrants: [target.adminRole],
      },
    ]);
    await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
  });

  it("own account: a membership Stint's admin granted without a live grant is revoked as drift; one the superuser granted is standing", async () => {
    const own = target.own.name;
    await connector.grantToAccount({ account: own, grants: [target.adminRole] }); // grantor: Stint's admin
    await target.superQuery(`GRANT ${id(target.readRole)} TO ${id(own)}`); // grantor: the superuser

    const dry = await pgReport(true);
    assert.deepEqual(dry.driftRevoked, [{ account: own, grant: target.adminRole, user: 'alice', revoked: false }]);
    assert.deepEqual(
      dry.standing.filter((s) => s.principal === own),
      [{ principal: own, grant: target.readRole, how: 'direct', via: [], grantedByStint: false }],
    );
    assert.deepEqual(await target.memberOf(own), [target.adminRole, target.readRole].sort(), 'dry run changed nothing');

    const real = await pgReport(false);
    assert.deepEqual(real.driftRevoked, [{ account: own, grant: target.adminRole, user: 'alice', revoked: true }]);
    assert.deepEqual(await target.memberOf(own), [target.readRole], "Stint's membership gone, the superuser's kept");
    const events = await audit('reconcile.drift-revoked');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.subjectUser, 'alice');
    assert.deepEqual(events[0]!.details, { account: own, grant: target.adminRole, target: 'pg', terminatedSessions: 0 });
    await target.superQuery(`REVOKE ${id(target.readRole)} FROM ${id(own)}`);
  });

  it('an own-account membership backed by a live grant is neither drift nor standing', async () => {
    const alice = await broker.token('alice');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-auto', duration: '10m' })).body.grant;
    const r = await pgReport(false);
    assert.deepEqual(r.driftRevoked, []);
    assert.ok(!r.standing.some((s) => s.principal === target.own.name));
    assert.deepEqual(await target.memberOf(target.own.name), [target.adminRole]);
    await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
    assert.deepEqual(await target.memberOf(target.own.name), []);
  });

  it("a live grant's account is never removed: reconcile runs while 50 grants are issued through the API", async () => {
    const users = ['alice', 'bob', 'carol', 'dave', 'root'];
    const tokens = await Promise.all(users.map((u) => broker.token(u)));
    let issuing = true;
    const removedAccounts: string[] = [];
    let runs = 0;
    // Several services, as several brokers would run it, so runs overlap every step of provisioning.
    const services = [
      service,
      ...Array.from({ length: 3 }, () =>
        createReconcileService({
          store: broker.app.store,
          catalog: () => broker.app.catalog,
          connectors: broker.app.connectors,
          clock: systemClock,
          log: nullLogger,
        }),
      ),
    ];
    const reconciling = Promise.all(
      services.map(async (svc) => {
        while (issuing) {
          const r = await svc.reconcile({ target: 'pg', dryRun: false, actor: 'tester' });
          runs++;
          for (const d of r.targets[0]!.driftRemoved) removedAccounts.push(d.account);
          assert.deepEqual(r.targets[0]!.errors, []);
        }
      }),
    );
    const issued = await Promise.all(
      Array.from({ length: 50 }, (_, i) => broker.call(tokens[i % tokens.length]!, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' })),
    );
    issuing = false;
    await reconciling;
    assert.ok(runs >= 1);
    const grants = issued.map((r) => {
      assert.equal(r.status, 201, r.raw);
      return r.body.grant;
    });
    const active = (await broker.app.store.listGrants({ target: 'pg', statuses: ['active'] })).filter((g) => g.mode === 'ephemeral-account');
    assert.equal(active.length, 50);
    for (const g of active) assert.equal(await target.roleExists(g.account), true, `account ${g.account} of active grant ${g.id} exists`);
    const accounts = new Set(grants.map((g: { account: string }) => g.account));
    assert.deepEqual(
      removedAccounts.filter((a) => accounts.has(a)),
      [],
      "reconcile removed no grant's account",
    );
    // And one more run afterwards finds them all backed.
    const r = await pgReport(false);
    assert.deepEqual(r.driftRemoved, []);
    assert.deepEqual(r.accountMissing, []);
    for (const g of active) await broker.call(broker.adminToken, 'POST', `/v1/grants/${g.id}/revoke`);
  });

  it('an account whose grant is provisioning right now is backed by that grant and not removed', async () => {
    // Hold the grant service between "account created on the target" and "grant active".
    const registry = broker.app.connectors;
    const realGet = registry.get.bind(registry);
    let created!: (account: string) => void;
    const createdP = new Promise<string>((r) => (created = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const real = realGet('pg');
    const held: Connector = {
      ...real,
      createAccount: async (req) => {
        await real.createAccount(req);
        created(req.account);
        await gate;
      },
    };
    registry.get = (name) => (name === 'pg' ? held : realGet(name));
    try {
      const alice = await broker.token('alice');
      const pending = broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' });
      const account = await createdP;
      const [g] = await broker.app.store.listGrants({ target: 'pg', account });
      assert.equal(g?.status, 'provisioning');
      const r = await pgReport(false);
      assert.ok(!r.driftRemoved.some((d) => d.account === account), 'not removed');
      assert.equal(await target.roleExists(account), true);
      release();
      const done = await pending;
      assert.equal(done.body.grant.status, 'active');
      assert.equal(await target.roleExists(account), true);
      await broker.call(alice, 'POST', `/v1/grants/${done.body.grant.id}/revoke`);
    } finally {
      release();
      registry.get = realGet;
    }
  });

  it('compare-and-act: a grant naming the account written after the diff keeps the account in place', async () => {
    const orphan = `stint_orphan3_${target.suffix}`;
    await connector.createAccount({ account: orphan, secret: 'orphan-secret-9012', grants: [], expiresAt: new Date(Date.now() + 3_600_000) });
    const store = broker.app.store;
    const template = (await store.listGrants({ target: 'pg', limit: 1 }))[0]!;
    let inserted = false;
    const racing: Parameters<typeof createReconcileService>[0]['store'] = {
      getGrant: (x) => store.getGrant(x),
      appendAudit: (e) => store.appendAudit(e),
      async listGrants(filter) {
        const out = await store.listGrants(filter);
        // Right after the snapshot the diff works from, another broker writes a grant for that very account.
        if (!inserted && filter.account === undefined && filter.statuses?.includes('provisioning')) {
          inserted = true;
          await store.insertGrant({ ...template, id: 'gr_racingracing', requestId: template.requestId, account: orphan, status: 'provisioning', version: 1 });
        }
        return out;
      },
    };
    const svc = createReconcileService({
      store: racing,
      catalog: () => broker.app.catalog,
      connectors: broker.app.connectors,
      clock: systemClock,
      log: nullLogger,
    });
    const r = (await svc.reconcile({ target: 'pg', dryRun: false, actor: 'tester' })).targets[0]!;
    assert.ok(inserted);
    assert.deepEqual(r.driftRemoved, []);
    assert.match(r.notes.join('\n'), /gr_racingracing.*left in place/);
    assert.equal(await target.roleExists(orphan), true);
    // Clean up through the normal path: the record is revoked, then the account is drift.
    const g = (await store.getGrant('gr_racingracing'))!;
    await store.casGrant(g.id, g.version, { status: 'revoked', revokedAt: Date.now() });
    assert.deepEqual(
      (await pgReport(false)).driftRemoved.map((d) => d.account),
      [orphan],
    );
  });

  it('an unreachable target is an error entry, and the other targets still run', async () => {
    const port = await closedPort();
    const down = createPostgresConnector({
      target: 'pg-down',
      adminUser: 'nobody',
      adminSecret: 'never-used-secret',
      settings: { host: '127.0.0.1', port, database: 'x', connectTimeoutMs: 2000 },
    });
    const base = broker.app.catalog;
    const pgDef = base.targets.get('pg')!;
    const catalog: Catalog = {
      ...base,
      targets: new Map([...base.targets, ['pg-down', { ...pgDef, name: 'pg-down' }], ['pg-gone', { ...pgDef, name: 'pg-gone' }]]),
    };
    const connectors: ConnectorRegistry = {
      get(name) {
        if (name === 'pg-down') return down;
        if (name === 'pg-gone') throw new Error('target pg-gone is not configured');
        return broker.app.connectors.get(name);
      },
    };
    const svc = createReconcileService({ store: broker.app.store, catalog: () => catalog, connectors, clock: systemClock, log: nullLogger });
    try {
      const r = await svc.reconcile({ dryRun: true, actor: 'tester' });
      const by = new Map(r.targets.map((t) => [t.target, t]));
      assert.equal(by.get('pg')!.reachable, true);
      assert.deepEqual(by.get('pg')!.errors, []);
      for (const name of ['pg-down', 'pg-gone']) {
        const t = by.get(name)!;
        assert.equal(t.reachable, false, name);
        assert.equal(t.errors.length, 1);
        assert.equal(t.errors[0]!.stage, 'connect');
      }
      assert.match(by.get('pg-down')!.errors[0]!.message, /pg-down/);
      await assert.rejects(svc.reconcile({ target: 'nope', dryRun: true, actor: 'tester' }), /not configured/);
    } finally {
      await down.close();
    }
  });

  it('a connector without listHolders: drift is still removed; standing and own-account drift are skipped with a note', async () => {
    const { listHolders: _omitted, ...rest } = connector;
    const plain: Connector = rest;
    const svc = createReconcileService({
      store: broker.app.store,
      catalog: () => broker.app.catalog,
      clock: systemClock,
      log: nullLogger,
      connectors: { get: (name) => (name === 'pg' ? plain : broker.app.connectors.get(name)) },
    });
    const orphan = `stint_orphan2_${target.suffix}`;
    await connector.createAccount({ account: orphan, secret: 'orphan-secret-5678', grants: [], expiresAt: new Date(Date.now() + 3_600_000) });
    const r = (await svc.reconcile({ target: 'pg', dryRun: false, actor: 'tester' })).targets[0]!;
    assert.deepEqual(
      r.driftRemoved.map((d) => d.account),
      [orphan],
    );
    assert.deepEqual(r.standing, []);
    assert.match(r.notes.join('\n'), /cannot list who holds privileges/);
    assert.equal(await target.roleExists(orphan), false);
  });
});
