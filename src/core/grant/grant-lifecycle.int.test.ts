// Grants through the real broker against a real PostgreSQL: the clock starts at
// activation, extend is capped, credentials go to the owner only, own-account
// permissions are reference-counted, revoke really removes access.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestTarget, FakeClock, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';

const min = 60_000;

describe('grant lifecycle', () => {
  let target: TestTarget;
  let broker: TestBroker;
  const clock = new FakeClock();

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target, clock });
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  it('ephemeral account: login works, allowed query works, forbidden fails; after revoke login fails and the role is gone', async () => {
    const alice = await broker.token('alice');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' });
    const g = r.body.grant;
    const creds = (await broker.call(alice, 'GET', `/v1/grants/${g.id}/credentials`)).body.credentials;
    assert.equal(creds.username, g.account);
    assert.equal(creds.database, target.db.name);
    assert.match(g.account, /^stint_alice_[a-z0-9]{6}$/);
    const ok = await target.login(creds.username, creds.password, 'SELECT name FROM public.items ORDER BY 1');
    assert.deepEqual(ok, { ok: true, rows: [{ name: 'gadget' }, { name: 'widget' }] });
    const no = await target.login(creds.username, creds.password, 'SELECT * FROM public.secrets');
    assert.equal(no.ok, false);
    assert.match(!no.ok ? no.error : '', /permission denied/);
    // VALID UNTIL is set on the target: the dead man's switch.
    const vu = await target.superQuery('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [g.account]);
    assert.ok(vu.rows[0].rolvaliduntil instanceof Date);

    const rev = await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
    assert.equal(rev.body.grant.status, 'revoked');
    assert.equal(rev.body.grant.revokeReason, 'checked-in');
    assert.equal((await target.login(creds.username, creds.password, 'SELECT 1')).ok, false);
    assert.equal(await target.roleExists(g.account), false);
    const again = await broker.call(alice, 'GET', `/v1/grants/${g.id}/credentials`);
    assert.equal(again.status, 409);
  });

  it("credentials go only to the grant's owner, not to another user (to whom the grant is not there) or an admin", async () => {
    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const root = await broker.token('root');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' })).body.grant;
    for (const [t, status] of [
      [bob, 404],
      [root, 403],
      [broker.adminToken, 403],
    ] as const) {
      const r = await broker.call(t, 'GET', `/v1/grants/${g.id}/credentials`);
      assert.equal(r.status, status);
      assert.ok(!r.raw.includes('password"'), 'no password field in the refusal');
    }
    const none = await broker.call(bob, 'GET', '/v1/grants/gr_000000000000/credentials');
    assert.equal(
      (await broker.call(bob, 'GET', `/v1/grants/${g.id}/credentials`)).body.error.message,
      none.body.error.message.replace('gr_000000000000', g.id),
      'the same answer as for no grant at all',
    );
    const byBob = await broker.call(bob, 'POST', `/v1/grants/${g.id}/revoke`);
    assert.equal(byBob.status, 404, "bob may not revoke alice's grant (nor learn it exists)");
    const byAdmin = await broker.call(root, 'POST', `/v1/grants/${g.id}/revoke`);
    assert.equal(byAdmin.body.grant.status, 'revoked');
    assert.equal(byAdmin.body.grant.revokeReason, 'revoked-by-admin');
  });

  it('duration counts from activation, not from the request', async () => {
    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '20m', reason: 'slow approver' });
    const requestedAt = clock.now();
    clock.advance(15 * min); // the approver takes 15 minutes
    const a = await broker.call(bob, 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    const g = a.body.grant;
    assert.equal(Date.parse(g.activatedAt), requestedAt + 15 * min);
    assert.equal(Date.parse(g.expiresAt), requestedAt + 35 * min);
    clock.advance(19 * min);
    await broker.app.worker.runOnce();
    assert.equal((await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant.status, 'active', 'still active 19m after activation');
    clock.advance(1 * min);
    await broker.app.worker.runOnce();
    const done = (await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant;
    assert.equal(done.status, 'revoked');
    assert.equal(done.revokeReason, 'expired');
    assert.ok(!(await target.memberOf(target.own.name)).includes(target.adminRole));
  });

  it('extend: never past the maximum counted from activation; updates VALID UNTIL on the target', async () => {
    const alice = await broker.token('alice');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' })).body.grant;
    const activatedAt = Date.parse(g.activatedAt);
    const tooFar = await broker.call(alice, 'POST', `/v1/grants/${g.id}/extend`, { by: '45m' });
    assert.equal(tooFar.status, 400);
    assert.match(tooFar.body.error.message, /past the maximum of 1h from activation.*at most 30m/);
    const ok = await broker.call(alice, 'POST', `/v1/grants/${g.id}/extend`, { by: '20m' });
    assert.equal(ok.status, 200, ok.raw);
    assert.equal(Date.parse(ok.body.grant.expiresAt), activatedAt + 50 * min);
    const vu = await target.superQuery('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [g.account]);
    assert.equal((vu.rows[0].rolvaliduntil as Date).getTime(), activatedAt + 50 * min);
    const rest = await broker.call(alice, 'POST', `/v1/grants/${g.id}/extend`, { by: '11m' });
    assert.equal(rest.status, 400);
    const other = await broker.call(await broker.token('bob'), 'POST', `/v1/grants/${g.id}/extend`, { by: '1m' });
    assert.equal(other.status, 404);
    await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
    const afterRevoke = await broker.call(alice, 'POST', `/v1/grants/${g.id}/extend`, { by: '1m' });
    assert.equal(afterRevoke.status, 409);
  });

  it("extends sent at once all count, one after another, and the target's VALID UNTIL ends where the store's expiry does", async () => {
    const alice = await broker.token('alice');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' })).body.grant;
    const start = Date.parse(g.expiresAt);
    const bys = [6, 1, 5, 2, 4, 3];
    const rs = await Promise.all(bys.map((m) => broker.call(alice, 'POST', `/v1/grants/${g.id}/extend`, { by: `${m}m` })));
    assert.deepEqual(
      rs.map((r) => r.status),
      bys.map(() => 200),
      rs.map((r) => r.raw).join('\n'),
    );
    const ends = rs.map((r) => Date.parse(r.body.grant.expiresAt)).sort((a, b) => a - b);
    assert.equal(ends.at(-1), start + 21 * min, 'every extension counted');
    assert.equal(new Set(ends).size, bys.length, 'each started from the one before');
    const stored = Date.parse((await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant.expiresAt);
    const vu = await target.superQuery('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [g.account]);
    assert.equal(stored, start + 21 * min);
    assert.equal((vu.rows[0].rolvaliduntil as Date).getTime(), stored, 'the target agrees with the store');
    await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
  });

  it('own-account: overlapping grants of the same role are reference-counted', async () => {
    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const g1 = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-auto', duration: '10m' })).body.grant;
    const r2 = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '20m', reason: 'second' });
    const g2 = (await broker.call(bob, 'POST', `/v1/requests/${r2.body.request.id}/approve`, {})).body.grant;
    assert.equal(g1.status, 'active');
    assert.equal(g2.status, 'active');
    assert.ok((await target.memberOf(target.own.name)).includes(target.adminRole));
    const ok = await target.login(target.own.name, target.own.password, 'SELECT * FROM public.secrets');
    assert.equal(ok.ok, true);

    // The first grant expires: the role stays, because g2 still holds it.
    clock.advance(10 * min + 1);
    await broker.app.worker.runOnce();
    assert.equal((await broker.call(alice, 'GET', `/v1/grants/${g1.id}`)).body.grant.status, 'revoked');
    assert.ok((await target.memberOf(target.own.name)).includes(target.adminRole), 'still held by the second grant');
    assert.equal((await target.login(target.own.name, target.own.password, 'SELECT * FROM public.secrets')).ok, true);

    // The last holder ends: now it goes.
    await broker.call(alice, 'POST', `/v1/grants/${g2.id}/revoke`);
    assert.ok(!(await target.memberOf(target.own.name)).includes(target.adminRole));
    assert.equal((await target.login(target.own.name, target.own.password, 'SELECT * FROM public.secrets')).ok, false);
    assert.equal(await target.roleExists(target.own.name), true, "the person's own account is never removed");
  });

  it('revoking twice, or a grant whose role someone dropped by hand, ends in one revoked event', async () => {
    const alice = await broker.token('alice');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' })).body.grant;
    await target.superQuery(`DROP ROLE "${g.account}"`);
    const [a, b] = await Promise.all([broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`), broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`)]);
    assert.ok(
      [a.status, b.status].every((s) => s === 200),
      `${a.raw} ${b.raw}`,
    );
    let final = (await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant;
    for (let i = 0; i < 40 && final.status !== 'revoked'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      final = (await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant;
    }
    assert.equal(final.status, 'revoked');
    const events = (await broker.call(broker.adminToken, 'GET', `/v1/audit?action=grant.revoked&limit=1000`)).body.events.filter(
      (e: any) => e.grantId === g.id,
    );
    assert.equal(events.length, 1);
    assert.equal(events[0].details.existed, false);
  });

  it('grants list shows expiresAt; --all is admin-only', async () => {
    const alice = await broker.token('alice');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' })).body.grant;
    const mine = await broker.call(alice, 'GET', '/v1/grants');
    const mineG = mine.body.grants.find((x: any) => x.id === g.id);
    assert.equal(mineG.expiresAt, g.expiresAt);
    assert.ok(mineG.remainingMs > 0);
    assert.equal((await broker.call(alice, 'GET', '/v1/grants?all=true')).status, 403);
    const all = await broker.call(broker.adminToken, 'GET', '/v1/grants?all=true');
    assert.ok(all.body.grants.some((x: any) => x.id === g.id));
    await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
  });

  it('session-bound: lives while its gateway renews the lease, and is revoked as session-lost once the renewals stop', async () => {
    const aliceDef = broker.app.catalog.users.get('alice')!;
    const alice = await broker.token('alice');
    const out = await broker.app.requests.create({
      actor: aliceDef,
      profile: 'pg-read',
      durationMs: 60 * min,
      reason: null,
      ticket: null,
      sessionLeaseMs: 60_000,
    });
    const g = out.grant!;
    assert.equal(g.status, 'active');
    assert.equal(g.sessionLeaseUntil, g.activatedAt! + 60_000, 'the lease runs from activation');
    assert.equal((await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant.sessionBound, true);
    assert.equal(await target.roleExists(g.account), true);
    // Attack: the person reads the credential of the account the gateway made for them, to skip the gateway.
    const creds = await broker.call(alice, 'GET', `/v1/grants/${g.id}/credentials`);
    assert.equal(creds.status, 403);
    assert.match(creds.body.error.message, /made by a session gateway for one connection; its credential stays with the gateway/);
    assert.ok(!creds.raw.includes('password'));
    // Its length is the gateway's cap: no extending past it.
    const ext = await broker.call(alice, 'POST', `/v1/grants/${g.id}/extend`, { by: '10m' });
    assert.equal(ext.status, 409);
    assert.match(ext.body.error.message, /cannot be extended; reconnect/);
    for (let i = 0; i < 4; i++) {
      clock.advance(40_000);
      assert.equal(await broker.app.grants.renewSessionLeases([g.id], 60_000), 1);
      await broker.app.worker.runOnce();
    }
    assert.equal((await broker.app.grants.get(g.id)).status, 'active', 'renewed for 160 s: still active');
    clock.advance(60_001);
    await broker.app.worker.runOnce();
    const done = await broker.app.grants.get(g.id);
    assert.equal(done.status, 'revoked');
    assert.equal(done.revokeReason, 'session-lost');
    assert.equal(await target.roleExists(g.account), false);
    assert.equal(await broker.app.grants.renewSessionLeases([g.id], 60_000), 0, 'a revoked grant is not renewed');
    const revoking = (await broker.app.store.listAudit({ action: 'grant.revoking' })).filter((e) => e.grantId === g.id);
    assert.deepEqual(
      revoking.map((e) => e.details.reason),
      ['session-lost'],
    );
  });

  it('session-bound grants only for automatic, ephemeral-account profiles', async () => {
    const aliceDef = broker.app.catalog.users.get('alice')!;
    const ask = (profile: string) =>
      broker.app.requests.create({ actor: aliceDef, profile, durationMs: 10 * min, reason: 'x', ticket: null, sessionLeaseMs: 60_000 });
    await assert.rejects(ask('pg-dba'), /needs approvers, so it cannot be granted for a single session/);
    assert.equal(
      (await broker.app.store.listRequests({ user: 'alice', statuses: ['pending'] })).filter((r) => r.reason === 'x').length,
      0,
      'nothing was written',
    );
  });
});
