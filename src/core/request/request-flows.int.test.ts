// Requests and approvals through the real broker and API, against a real PostgreSQL target.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestTarget, FakeClock, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import { maxPendingRequestsPerUser } from './request-service.js';

describe('requests and approvals', () => {
  let target: TestTarget;
  let broker: TestBroker;
  const clock = new FakeClock();

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target, clock, config: { pendingTimeout: '2h' } });
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  it('auto-approves for a subject of the policy and delivers the role on the target', async () => {
    const alice = await broker.token('alice');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' });
    assert.equal(r.status, 201, r.raw);
    assert.equal(r.body.request.status, 'approved');
    assert.equal(r.body.grant.status, 'active');
    assert.ok(await target.roleExists(r.body.grant.account));
    assert.deepEqual(await target.memberOf(r.body.grant.account), [target.readRole, target.marker].sort());
  });

  it('refuses a user who is not a subject of any policy, and changes nothing', async () => {
    const dave = await broker.token('dave');
    const before = (await broker.app.store.listGrants({})).length;
    const r = await broker.call(dave, 'POST', '/v1/requests', { profile: 'pg-dba-auto', duration: '10m', reason: 'x' });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'denied');
    assert.equal(r.body.error.message, 'no policy lets dave request profile pg-dba-auto');
    assert.equal((await broker.app.store.listGrants({})).length, before);
  });

  it('a deny policy wins over an allow policy for the same profile', async () => {
    const eve = await broker.token('eve');
    const r = await broker.call(eve, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /policy no-contractors denies eve/);
  });

  it('rejects a duration above the maximum and names the maximum', async () => {
    const alice = await broker.token('alice');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '2h' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /maximum of 1h for profile pg-read/);
  });

  it('requires a reason when the policy says so', async () => {
    const alice = await broker.token('alice');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /requires a reason/);
  });

  it('the requester never approves their own request: not as a user, not as an admin', async () => {
    const root = await broker.token('root');
    const r = await broker.call(root, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: 'self' });
    assert.equal(r.status, 201);
    assert.equal(r.body.request.status, 'pending');
    const self = await broker.call(root, 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    assert.equal(self.status, 403);
    assert.match(self.body.error.message, /your own request/);
    const denySelf = await broker.call(root, 'POST', `/v1/requests/${r.body.request.id}/deny`, { comment: 'hide it' });
    assert.equal(denySelf.status, 403);
    // The initial admin is not an approver of pg-dba: being an admin does not let it approve.
    const byAdmin = await broker.call(broker.adminToken, 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    assert.equal(byAdmin.status, 403, byAdmin.raw);
    // Another member of the approver group does.
    const byBob = await broker.call(await broker.token('bob'), 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    assert.equal(byBob.status, 200, byBob.raw);
    assert.equal(byBob.body.grant.status, 'active');
    await broker.call(root, 'POST', `/v1/grants/${byBob.body.grant.id}/revoke`);
  });

  it('a non-approver cannot approve, deny or cancel, nor learn that the request exists', async () => {
    const alice = await broker.token('alice');
    const dave = await broker.token('dave');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: 'x' });
    const id = r.body.request.id;
    for (const [path, body] of [
      ['approve', {}],
      ['deny', { comment: 'no' }],
      ['cancel', undefined],
    ] as const) {
      const d = await broker.call(dave, 'POST', `/v1/requests/${id}/${path}`, body);
      assert.equal(d.status, 404, `${path}: ${d.raw}`);
      assert.equal(d.body.error.message, `request ${id} not found`);
    }
    assert.equal((await broker.call(alice, 'GET', `/v1/requests/${id}`)).body.request.status, 'pending', 'nothing changed');
    await broker.call(alice, 'POST', `/v1/requests/${r.body.request.id}/cancel`);
  });

  it('own-account profiles need an own account on the target', async () => {
    const dave = await broker.token('dave');
    const r = await broker.call(dave, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: 'x' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /dave has none there/);
  });

  it('needs N distinct approvers; the same approver twice is a conflict', async () => {
    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const carol = await broker.token('carol');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-2', duration: '10m' });
    assert.equal(r.body.request.requiredApprovals, 2);
    const a1 = await broker.call(bob, 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    assert.equal(a1.status, 200);
    assert.equal(a1.body.request.status, 'pending');
    const again = await broker.call(bob, 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    assert.equal(again.status, 409);
    const a2 = await broker.call(carol, 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    assert.equal(a2.status, 200, a2.raw);
    assert.equal(a2.body.request.status, 'approved');
    assert.equal(a2.body.grant.status, 'active');
    assert.ok((await target.memberOf(target.own.name)).includes(target.adminRole));
    await broker.call(alice, 'POST', `/v1/grants/${a2.body.grant.id}/revoke`);
    assert.ok(!(await target.memberOf(target.own.name)).includes(target.adminRole));
  });

  it('a deny racing an approve: exactly one wins, and a deny is never overridden', async () => {
    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const carol = await broker.token('carol');
    for (let i = 0; i < 8; i++) {
      const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: `race ${i}` });
      const id = r.body.request.id;
      const [ap, dn] = await Promise.all([
        broker.call(bob, 'POST', `/v1/requests/${id}/approve`, {}),
        broker.call(carol, 'POST', `/v1/requests/${id}/deny`, { comment: 'no' }),
      ]);
      const final = (await broker.call(alice, 'GET', `/v1/requests/${id}`)).body;
      const winners = [ap.status, dn.status].filter((s) => s === 200).length;
      assert.equal(winners, 1, `one decision wins (approve ${ap.status}, deny ${dn.status})`);
      if (final.request.status === 'denied') {
        assert.equal(ap.status, 409);
        assert.equal(final.request.grantId, null);
        assert.equal(final.approvals.length, 1, 'the losing approval left no trace');
      } else {
        assert.equal(final.request.status, 'approved');
        assert.equal(dn.status, 409);
        await broker.call(alice, 'POST', `/v1/grants/${final.request.grantId}/revoke`);
      }
    }
  });

  it('a pending request expires unapproved after the configured time and keeps its history', async () => {
    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: 'later' });
    assert.equal(r.body.request.status, 'pending');
    clock.advance(2 * 3_600_000 + 1000);
    await broker.app.worker.runOnce();
    const g = await broker.call(alice, 'GET', `/v1/requests/${r.body.request.id}`);
    assert.equal(g.body.request.status, 'expired-unapproved');
    assert.equal(g.body.request.reason, 'later');
    const late = await broker.call(bob, 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    assert.equal(late.status, 409);
    const audit = await broker.call(broker.adminToken, 'GET', `/v1/audit?action=request.expired-unapproved`);
    assert.ok(audit.body.events.some((e: any) => e.requestId === r.body.request.id));
  });

  it('cancel: only the requester (or an admin), only while pending', async () => {
    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: 'c' });
    const byBob = await broker.call(bob, 'POST', `/v1/requests/${r.body.request.id}/cancel`);
    assert.equal(byBob.status, 403);
    const ok = await broker.call(alice, 'POST', `/v1/requests/${r.body.request.id}/cancel`);
    assert.equal(ok.body.request.status, 'cancelled');
    const twice = await broker.call(alice, 'POST', `/v1/requests/${r.body.request.id}/cancel`);
    assert.equal(twice.status, 409);
  });

  it("approvers see what they may approve; users do not see others' requests", async () => {
    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const dave = await broker.token('dave');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: 'see' });
    const inbox = await broker.call(bob, 'GET', '/v1/requests?scope=approvable');
    assert.ok(inbox.body.requests.some((x: any) => x.id === r.body.request.id));
    const other = await broker.call(dave, 'GET', `/v1/requests/${r.body.request.id}`);
    assert.equal(other.status, 404);
    const all = await broker.call(dave, 'GET', '/v1/requests?scope=all');
    assert.equal(all.status, 403);
    await broker.call(alice, 'POST', `/v1/requests/${r.body.request.id}/cancel`);
  });

  it(`at most ${maxPendingRequestsPerUser} requests wait for approval per user, however many are sent at once; cancelling one makes room`, async () => {
    const alice = await broker.token('alice');
    const pending = async () => (await broker.app.store.listRequests({ user: 'alice', statuses: ['pending'] })).map((r) => r.id);
    const room = maxPendingRequestsPerUser - (await pending()).length;
    const sent = await Promise.all(
      Array.from({ length: room + 5 }, () => broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-2', duration: '10m' })),
    );
    assert.equal(sent.filter((r) => r.status === 201).length, room);
    const refused = sent.filter((r) => r.status !== 201);
    assert.equal(refused.length, 5);
    for (const r of refused) {
      assert.equal(r.status, 409, r.raw);
      assert.match(r.body.error.message, new RegExp(`alice has ${maxPendingRequestsPerUser} requests waiting for approval`));
    }
    assert.equal((await pending()).length, maxPendingRequestsPerUser);
    // Auto-approved requests never wait, so they are not held back.
    assert.equal((await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' })).status, 201);
    const [first] = await pending();
    await broker.call(alice, 'POST', `/v1/requests/${first}/cancel`);
    assert.equal((await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-2', duration: '10m' })).status, 201);
    for (const id of await pending()) await broker.call(alice, 'POST', `/v1/requests/${id}/cancel`);
  });
});
