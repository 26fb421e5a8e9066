// The grant state machine when things go wrong, against the in-memory store,
// a fake clock and a fake target: a target that refuses removal
// (revoke-failing, retried with backoff until it confirms), failed and
// interrupted provisioning, and recovery after a restart.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StintError } from '../errors.js';
import { actionsOf, alice, grantHarness, hour } from './testing/grant-harness.js';

describe('grant state machine: revoke-failing', () => {
  it('keeps retrying a removal the target refuses, with backoff, never gives up, and records the outcome once it works', async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read', hour);
    h.db.failing.add('removeAccount');
    h.clock.advance(hour);
    assert.equal(await h.grants.processDue(), 1);
    let cur = (await h.store.getGrant(g.id))!;
    assert.equal(cur.status, 'revoke-failing');
    assert.equal(cur.attempts, 1);
    assert.equal(cur.failingSince, h.clock.now());
    assert.match(cur.lastError!, /ECONNREFUSED/);
    // Backoff for attempt 1: revokeRetryInitialMs ± 50%.
    const wait = cur.nextAttemptAt! - h.clock.now();
    assert.ok(wait >= h.settings.revokeRetryInitialMs / 2 && wait <= h.settings.revokeRetryInitialMs * 1.5, String(wait));
    assert.equal(h.db.accounts.has(g.account), true, 'the account is still there');
    assert.deepEqual(
      h.notifications.map((n) => n.kind),
      ['grant.active', 'grant.revoke-failing'],
    );

    // Not due before its next attempt; each failure pushes the next one out.
    assert.equal(await h.grants.processDue(), 0);
    for (let attempt = 2; attempt <= 12; attempt++) {
      h.clock.t = cur.nextAttemptAt!;
      assert.equal(await h.grants.processDue(), 1);
      cur = (await h.store.getGrant(g.id))!;
      assert.equal(cur.status, 'revoke-failing');
      assert.equal(cur.attempts, attempt);
      assert.ok(cur.nextAttemptAt! - h.clock.now() <= h.settings.revokeRetryMaxMs * 1.5, 'capped');
    }
    // The failing period is audited once, and alerted once.
    assert.deepEqual(await actionsOf(h.store, g.id), ['grant.activated', 'grant.revoking', 'grant.revoke-failing']);
    assert.equal(h.notifications.filter((n) => n.kind === 'grant.revoke-failing').length, 1);

    h.db.failing.clear();
    h.clock.t = cur.nextAttemptAt!;
    assert.equal(await h.grants.processDue(), 1);
    cur = (await h.store.getGrant(g.id))!;
    assert.equal(cur.status, 'revoked');
    assert.equal(cur.lastError, null);
    assert.equal(cur.nextAttemptAt, null);
    assert.equal(h.db.accounts.has(g.account), false);
    const revoked = (await h.store.listAudit({ action: 'grant.revoked' }))[0]!;
    assert.equal(revoked.details.attempts, 13);
    assert.equal(revoked.details.reason, 'expired');
    assert.match(String(revoked.details.lastError), /ECONNREFUSED/);
    assert.equal(await h.store.nextDueAt(), null);
  });

  it('a check-in against an unreachable target answers revoke-failing, and the sweep finishes it later', async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read');
    h.db.failing.add('removeAccount');
    const answer = await h.grants.revoke({ grantId: g.id, actor: alice });
    assert.equal(answer.status, 'revoke-failing');
    assert.equal(answer.revokeReason, 'checked-in');
    h.db.failing.clear();
    h.clock.t = answer.nextAttemptAt!;
    await h.grants.processDue();
    assert.equal((await h.store.getGrant(g.id))!.status, 'revoked');
    assert.equal((await h.store.getGrant(g.id))!.revokeReason, 'checked-in', 'the reason stays the first one');
  });
});

describe('grant state machine: failed and interrupted provisioning', () => {
  it('a target that refuses the account: provisioning fails plainly and leaves nothing behind', async () => {
    const h = grantHarness();
    h.db.failing.add('createAccount');
    const g = await h.intent(alice, 'db-read');
    await assert.rejects(
      h.grants.provision(g.id, g),
      (err) => err instanceof StintError && err.code === 'target_unavailable' && /nothing was left on the target/.test(err.message),
    );
    const cur = (await h.store.getGrant(g.id))!;
    assert.equal(cur.status, 'revoked');
    assert.equal(cur.revokeReason, 'provisioning-failed');
    assert.equal(h.db.accounts.has(g.account), false);
    assert.deepEqual(await actionsOf(h.store, g.id), ['grant.provisioning-failed', 'grant.revoked']);
    assert.deepEqual(
      h.db.calls.map((c) => c.op),
      ['createAccount', 'removeAccount'],
      'the rollback removed whatever part reached the target',
    );
  });

  it('a revoke while the target works: the activation loses its compare-and-swap and the account is removed', async () => {
    const h = grantHarness();
    const g = await h.intent(alice, 'db-read');
    const held = h.db.hold('createAccount');
    const provisioning = h.grants.provision(g.id, g);
    await held.reached;
    const revoking = await h.grants.revoke({ grantId: g.id, actor: alice });
    assert.equal(revoking.status, 'revoking', 'provisioning holds the grant; it finishes the revocation');
    held.release();
    const done = await provisioning;
    assert.equal(done.status, 'revoked');
    assert.equal(done.activatedAt, null, 'never activated');
    assert.equal(h.db.accounts.has(g.account), false, 'what provisioning created was removed');
    assert.deepEqual(await actionsOf(h.store, g.id), ['grant.revoking', 'grant.revoked']);
  });

  it('recovery after a restart: grants left provisioning or revoking are finished, on a store the broker owns at once', async () => {
    const h = grantHarness();
    const interrupted = await h.intent(alice, 'db-read');
    // The broker died after creating the account and before activating it.
    await h.db.createAccount({ account: interrupted.account, secret: 'x', grants: ['reader'], expiresAt: new Date(h.clock.now() + hour) });
    const cut = await h.issue(alice, 'db-read');
    assert.equal(await h.store.casGrant(cut.id, cut.version, { status: 'revoking', revokeReason: 'checked-in', nextAttemptAt: h.clock.now() + 5000 }), true);
    const live = await h.issue(alice, 'db-read');

    const restarted = h.secondBroker();
    assert.equal(await restarted.recoverInterrupted({ onlyAbandoned: false }), 2);
    const a = (await h.store.getGrant(interrupted.id))!;
    assert.equal(a.status, 'revoked');
    assert.equal(a.revokeReason, 'provisioning-interrupted');
    assert.equal(h.db.accounts.has(interrupted.account), false);
    assert.equal((await h.store.getGrant(cut.id))!.status, 'revoked');
    assert.equal((await h.store.getGrant(live.id))!.status, 'active', 'a live grant is left alone');
    assert.equal(h.db.accounts.has(live.account), true);
  });

  it('on a shared store only abandoned work is taken over: provisioning past its timeout, revoking past its lease', async () => {
    const h = grantHarness();
    const fresh = await h.intent(alice, 'db-read');
    const other = h.secondBroker();
    assert.equal(await other.recoverInterrupted({ onlyAbandoned: true }), 0, 'another broker may be provisioning it right now');
    assert.equal(await other.processDue(), 0);
    assert.equal((await h.store.getGrant(fresh.id))!.status, 'provisioning');
    h.clock.advance(h.settings.provisionTimeoutMs);
    assert.equal(await other.processDue(), 1, 'the expiry sweep rolls back abandoned provisioning');
    const cur = (await h.store.getGrant(fresh.id))!;
    assert.equal(cur.status, 'revoked');
    assert.equal(cur.revokeReason, 'provisioning-interrupted');
  });
});
