// Roles and separation of duties over the real API, with a real broker and a
// real PostgreSQL target: an admin approves only where a policy names them;
// an auditor reads everything and changes nothing; tokens act only as their
// maker or a service user.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';

// ops: admin through its group, approver of nothing. sec: auditor. ci: a service user.
const extraUsers = `  - { name: ops, groups: [platform] }
  - { name: sec, groups: [security] }
  - { name: ci, service: true }
roles:
  admin: { groups: [platform] }
  auditor: { groups: [security] }
`;

describe('roles and separation of duties (API)', () => {
  let target: TestTarget;
  let broker: TestBroker;
  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target, editConfig: (text) => `${text.trimEnd()}\n${extraUsers}` });
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  const pendingDba = async () => {
    const r = await broker.call(await broker.token('alice'), 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: 'INC-7' });
    assert.equal(r.status, 201, r.raw);
    assert.equal(r.body.request.status, 'pending');
    return r.body.request.id as string;
  };

  it('/v1/me tells the roles', async () => {
    const me = async (u: string) => (await broker.call(await broker.token(u), 'GET', '/v1/me')).body;
    assert.deepEqual([(await me('ops')).roles, (await me('ops')).admin], [['admin'], true]);
    assert.deepEqual([(await me('sec')).roles, (await me('sec')).admin], [['auditor'], false]);
    assert.deepEqual((await me('root')).roles, ['admin'], 'admin: true in users: is the admin role');
    assert.deepEqual((await me('alice')).roles, []);
  });

  it('attack: an admin outside the approver groups cannot approve or deny (403), and does not see it as approvable', async () => {
    const id = await pendingDba();
    const ops = await broker.token('ops');
    for (const token of [ops, broker.adminToken]) {
      const a = await broker.call(token, 'POST', `/v1/requests/${id}/approve`, {});
      assert.equal(a.status, 403, a.raw);
      assert.match(a.body.error.message, /is not an approver for this request \(being an admin does not make one: only a policy names approvers\)/);
      assert.equal((await broker.call(token, 'POST', `/v1/requests/${id}/deny`, { comment: 'no' })).status, 403);
      const approvable = await broker.call(token, 'GET', '/v1/requests?scope=approvable');
      assert.deepEqual(
        approvable.body.requests.map((r: { id: string }) => r.id),
        [],
      );
    }
    assert.equal((await broker.call(ops, 'GET', `/v1/requests/${id}`)).body.request.status, 'pending', 'still pending; an admin may read it');
    // Someone with no role who is not an approver does not see it at all.
    assert.equal((await broker.call(await broker.token('dave'), 'GET', `/v1/requests/${id}`)).status, 404);
    const bob = await broker.call(await broker.token('bob'), 'POST', `/v1/requests/${id}/approve`, {});
    assert.equal(bob.status, 200, bob.raw);
    assert.equal(bob.body.request.status, 'approved');
    await broker.call(await broker.token('alice'), 'POST', `/v1/grants/${bob.body.grant.id}/revoke`);
  });

  it('an auditor reads every request, grant, audit event, session and admin page', async () => {
    const sec = await broker.token('sec');
    const id = await pendingDba();
    const g = (await broker.call(await broker.token('alice'), 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' })).body.grant;
    try {
      const all = await broker.call(sec, 'GET', '/v1/requests?scope=all');
      assert.equal(all.status, 200, all.raw);
      assert.ok(all.body.requests.some((r: { id: string }) => r.id === id));
      assert.equal((await broker.call(sec, 'GET', `/v1/requests/${id}`)).status, 200);
      const grants = await broker.call(sec, 'GET', '/v1/grants?all=true');
      assert.ok(grants.body.grants.some((x: { id: string }) => x.id === g.id));
      assert.equal((await broker.call(sec, 'GET', `/v1/grants/${g.id}`)).body.grant.user, 'alice');
      const audit = await broker.call(sec, 'GET', '/v1/audit?user=alice');
      assert.equal(audit.status, 200, audit.raw);
      assert.ok(audit.body.events.some((e: { action: string }) => e.action === 'request.created'));
      assert.equal((await broker.call(sec, 'GET', '/v1/sessions?all=true')).status, 200);
      assert.equal((await broker.call(sec, 'GET', '/v1/admin/config')).status, 200);
      assert.equal((await broker.call(sec, 'GET', '/v1/tokens?user=alice')).status, 200);
      // A plain user gets none of that.
      const dave = await broker.token('dave');
      assert.equal((await broker.call(dave, 'GET', '/v1/requests?scope=all')).status, 403);
      assert.equal((await broker.call(dave, 'GET', '/v1/admin/config')).status, 403);
    } finally {
      await broker.call(await broker.token('alice'), 'POST', `/v1/requests/${id}/cancel`);
      await broker.call(await broker.token('alice'), 'POST', `/v1/grants/${g.id}/revoke`);
    }
  });

  it("attack: an auditor changes nothing of anyone else's (403 on every write), and acts for themselves as a plain user", async () => {
    const sec = await broker.token('sec');
    const alice = await broker.token('alice');
    const id = await pendingDba();
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' })).body.grant;
    const aliceToken = (await broker.call(alice, 'GET', '/v1/tokens')).body.tokens[0].id as string;
    try {
      const writes: [string, string, unknown][] = [
        ['POST', `/v1/requests/${id}/approve`, {}],
        ['POST', `/v1/requests/${id}/deny`, { comment: 'no' }],
        ['POST', `/v1/requests/${id}/cancel`, undefined],
        ['POST', `/v1/grants/${g.id}/revoke`, undefined],
        ['POST', `/v1/grants/${g.id}/extend`, { by: '1m' }],
        ['GET', `/v1/grants/${g.id}/credentials`, undefined],
        ['POST', '/v1/tokens', { user: 'alice' }],
        ['DELETE', `/v1/tokens/${aliceToken}`, undefined],
        ['POST', '/v1/reconcile', { dryRun: false }],
      ];
      for (const [method, url, body] of writes) {
        const r = await broker.call(sec, method as 'POST', url, body);
        assert.equal(r.status, 403, `${method} ${url}: ${r.raw}`);
      }
      assert.equal((await broker.call(alice, 'GET', `/v1/requests/${id}`)).body.request.status, 'pending');
      assert.equal((await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant.status, 'active');
      assert.equal((await broker.call(alice, 'GET', '/v1/me')).status, 200, "alice's token still works");
      const own = await broker.call(sec, 'POST', '/v1/tokens', { user: 'sec', description: 'laptop' });
      assert.equal(own.status, 201, own.raw);
    } finally {
      await broker.call(alice, 'POST', `/v1/requests/${id}/cancel`);
      await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
    }
  });

  it('tokens: a person for themselves, an admin for a service user; a person never for another', async () => {
    const alice = await broker.token('alice');
    assert.equal((await broker.call(alice, 'POST', '/v1/tokens', { user: 'alice' })).status, 201);
    const other = await broker.call(alice, 'POST', '/v1/tokens', { user: 'bob' });
    assert.equal(other.status, 403);
    assert.match(other.body.error.message, /only for yourself \(alice\)/);
    const forCi = await broker.call(await broker.token('ops'), 'POST', '/v1/tokens', { user: 'ci', description: 'pipeline' });
    assert.equal(forCi.status, 201, forCi.raw);
    assert.equal((await broker.call(forCi.body.secret, 'GET', '/v1/me')).body.user, 'ci');
  });
});
