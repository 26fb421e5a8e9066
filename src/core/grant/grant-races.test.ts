// Compare-and-swap races in the grant state machine, against the in-memory
// store with a fake clock and a fake target: a deny beats a racing approve,
// two revokers (two brokers sharing the store) revoke once, and an extension
// racing a revocation loses.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StintError } from '../errors.js';
import { nullLogger, nullNotifier, nullTelemetry } from '../ports.js';
import { createRequestService } from '../request/request-service.js';
import { actionsOf, admin, alice, bob, catalog, grantHarness, hour, user } from './testing/grant-harness.js';

const carol = catalog.users.get('carol')!;

function withRequests() {
  const h = grantHarness();
  const requests = createRequestService({
    store: h.store,
    catalog: () => catalog,
    grants: h.grants,
    clock: h.clock,
    notifier: nullNotifier,
    log: nullLogger,
    telemetry: nullTelemetry,
    settings: { pendingTimeoutMs: hour },
  });
  return { ...h, requests };
}

describe('grant races: deny beats approve', () => {
  it('of an approve and a deny sent at once, exactly one decides; a denied request has no grant and nothing on the target', async () => {
    const h = withRequests();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { request } = await h.requests.create({ actor: alice, profile: 'db-approved', durationMs: hour, reason: 'incident', ticket: null });
      assert.equal(request.status, 'pending');
      ids.push(request.id);
    }
    // Both orders of arrival, several times each.
    const outcomes = await Promise.all(
      ids.map(async (requestId, i) => {
        const approve = () => h.requests.approve({ actor: bob, requestId, comment: null });
        const deny = () => h.requests.deny({ actor: carol, requestId, comment: 'not now' });
        const [first, second] = i % 2 ? [deny(), approve()] : [approve(), deny()];
        const settled = await Promise.allSettled([first, second]);
        return { requestId, denyFirst: i % 2 === 1, settled };
      }),
    );
    for (const { requestId, denyFirst, settled } of outcomes) {
      const won = settled.filter((s) => s.status === 'fulfilled');
      assert.equal(won.length, 1, `one decision on ${requestId}`);
      const lost = settled.find((s) => s.status === 'rejected')!;
      assert.ok(lost.reason instanceof StintError && lost.reason.code === 'conflict', String(lost.reason));
      const r = (await h.store.getRequest(requestId))!;
      assert.equal(r.status, denyFirst ? 'denied' : 'approved', 'the decision that committed first stands');
      const grants = await h.store.listGrants({}).then((gs) => gs.filter((g) => g.requestId === requestId));
      if (r.status === 'denied') {
        assert.deepEqual(grants, [], 'a denied request never gets a grant');
        assert.equal(r.grantId, null);
        assert.deepEqual(
          (await h.store.listAudit({})).filter((e) => e.requestId === requestId && e.action.startsWith('grant.')),
          [],
        );
      } else {
        assert.equal(grants.length, 1);
        assert.equal(grants[0]!.status, 'active');
        assert.equal(r.grantId, grants[0]!.id);
      }
    }
    const approved = outcomes.filter((o) => !o.denyFirst).length;
    assert.equal([...h.db.accounts.values()].filter((a) => a.secret !== null).length, approved, 'accounts exist only for approved requests');
  });

  it('a requester never approves their own request, and a denial needs a comment', async () => {
    const h = withRequests();
    const { request } = await h.requests.create({ actor: bob, profile: 'db-approved', durationMs: hour, reason: null, ticket: null });
    await assert.rejects(h.requests.approve({ actor: bob, requestId: request.id, comment: null }), (e) => e instanceof StintError && e.code === 'forbidden');
    await assert.rejects(h.requests.deny({ actor: carol, requestId: request.id, comment: ' ' }), (e) => e instanceof StintError && e.code === 'invalid');
    assert.equal((await h.store.getRequest(request.id))!.status, 'pending');
    assert.deepEqual(await h.store.listGrants({}), []);
  });
});

describe('grant races: two revokers', () => {
  it('the owner, an admin on another broker and the expiry sweep revoke at once: one revocation, audited once', async () => {
    // Target work takes a millisecond, so the two brokers finish at different moments, as they do for real.
    const h = grantHarness({ targetTakesMs: 1 });
    const other = h.secondBroker();
    for (let i = 0; i < 10; i++) {
      const g = await h.issue(alice, 'db-read', hour);
      h.clock.advance(hour);
      const results = await Promise.allSettled([
        h.grants.revoke({ grantId: g.id, actor: alice }),
        other.revoke({ grantId: g.id, actor: admin }),
        other.processDue(),
        h.grants.processDue(),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
      );
      const cur = (await h.store.getGrant(g.id))!;
      assert.equal(cur.status, 'revoked');
      assert.ok(['checked-in', 'revoked-by-admin', 'expired'].includes(cur.revokeReason!), String(cur.revokeReason));
      assert.deepEqual(await actionsOf(h.store, g.id), ['grant.activated', 'grant.revoking', 'grant.revoked'], 'one intent, one outcome');
      assert.equal(h.db.accounts.has(g.account), false);
    }
    assert.equal(h.notifications.filter((n) => n.kind === 'grant.revoked').length, 10);
  });

  it('an extension racing a revocation is not applied once the grant is revoking', async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read', hour);
    const held = h.db.hold('extendAccount');
    const extending = h.grants.extend({ grantId: g.id, actor: alice, byMs: hour });
    await held.reached;
    const revoked = await h.grants.revoke({ grantId: g.id, actor: admin });
    assert.equal(revoked.status, 'revoked');
    held.release();
    await assert.rejects(extending, (e) => e instanceof StintError && e.code === 'conflict');
    const cur = (await h.store.getGrant(g.id))!;
    assert.equal(cur.status, 'revoked');
    assert.equal(cur.expiresAt, g.expiresAt, 'the store kept its expiry');
    assert.deepEqual(await actionsOf(h.store, g.id), ['grant.activated', 'grant.revoking', 'grant.revoked']);
  });

  it('two brokers provisioning the same intent activate it once', async () => {
    const h = grantHarness();
    const other = h.secondBroker();
    const g = await h.intent(user('dave'), 'db-read');
    const [a, b] = await Promise.all([h.grants.provision(g.id, g), other.provision(g.id)]);
    assert.equal(a.status, 'active');
    assert.equal(b.status, 'active');
    assert.equal((await h.store.getGrant(g.id))!.version, 2, 'one activation');
    assert.deepEqual(await actionsOf(h.store, g.id), ['grant.activated']);
  });
});
