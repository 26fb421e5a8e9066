// The grant state machine against the in-memory store, a fake clock and a
// fake target (testing/grant-harness.ts): issue, credentials, extend,
// check-in, admin revoke, expiry, and overlapping own-account grants.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StintError } from '../errors.js';
import { actionsOf, admin, alice, auditor, bob, grantHarness, hour, minute } from './testing/grant-harness.js';

const code = (c: string) => (err: unknown) => err instanceof StintError && err.code === c;

describe('grant state machine: issue', () => {
  it('writes the intent as provisioning, creates the account, then activates; the clock starts at activation', async () => {
    const h = grantHarness({ targetTakesMs: 7_000 });
    const g = await h.intent(alice, 'db-read', hour);
    assert.equal((await h.store.getGrant(g.id))!.status, 'provisioning');
    assert.equal(h.db.accounts.has(g.account), false, 'nothing on the target before provisioning');
    const started = h.clock.now();
    const active = await h.grants.provision(g.id, g);
    assert.equal(active.status, 'active');
    // The target took 7 s: the hour counts from activation, not from the request.
    assert.equal(active.activatedAt, started + 7_000);
    assert.equal(active.expiresAt, started + 7_000 + hour);
    assert.deepEqual(await h.store.getGrant(g.id), active);
    const account = h.db.accounts.get(g.account)!;
    assert.deepEqual([...account.grants], ['reader']);
    // Target-side expiry (dead man's switch) from the planned activation.
    assert.equal(account.expiresAt!.getTime(), started + hour);
    assert.deepEqual(await actionsOf(h.store, g.id), ['grant.activated']);
    assert.deepEqual(
      h.notifications.map((n) => n.kind),
      ['grant.active'],
    );
    // The secret is stored sealed, never in plaintext.
    assert.notEqual(active.sealedSecret, null);
    assert.ok(!active.sealedSecret!.includes(account.secret!));
  });

  it('hands the owner the credential that logs in, audited without the secret; others get 404, an auditor 403', async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read');
    const c = await h.grants.credentials({ grantId: g.id, actor: alice });
    assert.deepEqual(c, {
      target: 'db',
      kind: 'postgres',
      account: g.account,
      password: h.db.accounts.get(g.account)!.secret,
      connection: { host: 'db.example', port: 5432 },
    });
    const viewed = (await h.store.listAudit({ action: 'grant.credentials-viewed' }))[0]!;
    assert.equal(viewed.actor, 'alice');
    assert.ok(!JSON.stringify(viewed).includes(c.password!), 'the audit event does not carry the secret');
    await assert.rejects(h.grants.credentials({ grantId: g.id, actor: bob }), code('not_found'));
    await assert.rejects(h.grants.credentials({ grantId: g.id, actor: auditor }), code('forbidden'));
    await assert.rejects(h.grants.credentials({ grantId: g.id, actor: admin }), code('forbidden'));
  });

  it("own-account: adds the profile's permissions to the person's own account, and fails plainly without one", async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-write');
    assert.equal(g.status, 'active');
    assert.equal(g.account, 'alice_own');
    assert.deepEqual([...h.db.accounts.get('alice_own')!.grants].sort(), ['reader', 'writer']);
    assert.equal(g.sealedSecret, null);
    assert.equal((await h.grants.credentials({ grantId: g.id, actor: alice })).password, null);
  });
});

describe('grant state machine: extend', () => {
  it('moves the expiry on the target and in the store, never past the maximum from activation', async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read', hour);
    h.clock.advance(10 * minute);
    const ext = await h.grants.extend({ grantId: g.id, actor: alice, byMs: hour });
    assert.equal(ext.expiresAt, g.expiresAt! + hour);
    assert.equal(ext.version, g.version + 1);
    assert.equal(h.db.accounts.get(g.account)!.expiresAt!.getTime(), ext.expiresAt);
    assert.deepEqual(await actionsOf(h.store, g.id), ['grant.activated', 'grant.extended']);
    // 2 h used of a 4 h maximum: 3 h more is too much, and says how much is left.
    await assert.rejects(
      h.grants.extend({ grantId: g.id, actor: alice, byMs: 3 * hour }),
      (err) => code('invalid')(err) && /at most 2h/.test((err as Error).message),
    );
    assert.equal((await h.store.getGrant(g.id))!.expiresAt, ext.expiresAt, 'a refused extension changes nothing');
    assert.equal(h.db.accounts.get(g.account)!.expiresAt!.getTime(), ext.expiresAt);
    await h.grants.extend({ grantId: g.id, actor: admin, byMs: 2 * hour });
    await assert.rejects(h.grants.extend({ grantId: g.id, actor: alice, byMs: 1000 }), /already at its maximum/);
  });

  it('refuses bad amounts, other people, and grants that are not active', async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read');
    for (const byMs of [0, -1, 1.5, Number.NaN]) await assert.rejects(h.grants.extend({ grantId: g.id, actor: alice, byMs }), code('invalid'));
    await assert.rejects(h.grants.extend({ grantId: g.id, actor: bob, byMs: minute }), code('not_found'));
    await assert.rejects(h.grants.extend({ grantId: g.id, actor: auditor, byMs: minute }), code('forbidden'));
    await h.grants.revoke({ grantId: g.id, actor: alice });
    await assert.rejects(h.grants.extend({ grantId: g.id, actor: alice, byMs: minute }), code('conflict'));
    await assert.rejects(h.grants.extend({ grantId: 'gr_missing', actor: alice, byMs: minute }), code('not_found'));
  });

  it('concurrent extensions of one grant apply in turn: the target ends where the store does', async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read', hour);
    const results = await Promise.allSettled([1, 2, 3].map(() => h.grants.extend({ grantId: g.id, actor: alice, byMs: 10 * minute })));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled'],
    );
    const cur = (await h.store.getGrant(g.id))!;
    assert.equal(cur.expiresAt, g.expiresAt! + 30 * minute);
    assert.equal(h.db.accounts.get(g.account)!.expiresAt!.getTime(), cur.expiresAt);
  });
});

describe('grant state machine: check-in, revoke, expiry', () => {
  it('check-in by the owner removes the account and records revoking then revoked', async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read');
    const done = await h.grants.revoke({ grantId: g.id, actor: alice });
    assert.equal(done.status, 'revoked');
    assert.equal(done.revokeReason, 'checked-in');
    assert.equal(done.revokeRequestedBy, 'alice');
    assert.equal(done.revokedAt, h.clock.now());
    assert.equal(h.db.accounts.has(g.account), false);
    assert.deepEqual(await actionsOf(h.store, g.id), ['grant.activated', 'grant.revoking', 'grant.revoked']);
    assert.deepEqual(
      h.notifications.map((n) => n.kind),
      ['grant.active', 'grant.revoked'],
    );
    // Revoking again is a no-op that reports the outcome.
    assert.deepEqual(await h.grants.revoke({ grantId: g.id, actor: alice }), done);
    assert.equal(h.db.calls.filter((c) => c.op === 'removeAccount').length, 1);
  });

  it("an admin may revoke anyone's grant; another person may not, and is not told it exists", async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read');
    await assert.rejects(h.grants.revoke({ grantId: g.id, actor: bob }), code('not_found'));
    await assert.rejects(h.grants.revoke({ grantId: g.id, actor: auditor }), code('forbidden'));
    assert.equal((await h.store.getGrant(g.id))!.status, 'active');
    const done = await h.grants.revoke({ grantId: g.id, actor: admin });
    assert.equal(done.revokeReason, 'revoked-by-admin');
  });

  it('expiry: nothing is due before expiresAt; at it the sweep revokes (reason expired)', async () => {
    const h = grantHarness();
    const g = await h.issue(alice, 'db-read', hour);
    h.clock.advance(hour - 1);
    assert.equal(await h.grants.processDue(), 0);
    assert.equal((await h.store.getGrant(g.id))!.status, 'active');
    assert.equal(await h.store.nextDueAt(), g.expiresAt);
    h.clock.advance(1);
    assert.equal(await h.grants.processDue(), 1);
    const cur = (await h.store.getGrant(g.id))!;
    assert.equal(cur.status, 'revoked');
    assert.equal(cur.revokeReason, 'expired');
    assert.equal(h.db.accounts.has(g.account), false);
    assert.equal(await h.grants.processDue(), 0, 'nothing left to do');
    assert.equal(await h.store.nextDueAt(), null);
  });

  it('overlap: two own-account grants holding one permission; it goes only when the last one ends', async () => {
    const h = grantHarness();
    const both = await h.issue(alice, 'db-write');
    const readOnly = await h.issue(alice, 'db-reader-own');
    await h.grants.revoke({ grantId: both.id, actor: alice });
    assert.deepEqual([...h.db.accounts.get('alice_own')!.grants], ['reader'], 'writer went; reader is still held by the other grant');
    const kept = (await h.store.listAudit({ action: 'grant.revoked' }))[0]!;
    assert.deepEqual(kept.details.keptRoles, ['reader']);
    await h.grants.revoke({ grantId: readOnly.id, actor: alice });
    assert.deepEqual([...h.db.accounts.get('alice_own')!.grants], []);
    assert.equal(h.db.accounts.has('alice_own'), true, "the person's own account itself stays");
  });

  it('session-bound: a lapsed lease is revoked as session-lost; renewal keeps it; it cannot be extended', async () => {
    const h = grantHarness();
    const i = await h.intent(alice, 'db-read', hour, minute);
    const g = await h.grants.provision(i.id, i);
    assert.equal(g.sessionLeaseUntil, g.activatedAt! + minute);
    assert.equal(h.db.accounts.get(g.account)!.gatewayOnly, true);
    await assert.rejects(h.grants.extend({ grantId: g.id, actor: alice, byMs: minute }), code('conflict'));
    await assert.rejects(h.grants.credentials({ grantId: g.id, actor: alice }), code('forbidden'));
    h.clock.advance(50_000);
    assert.equal(await h.grants.renewSessionLeases([g.id], minute), 1);
    h.clock.advance(50_000);
    assert.equal(await h.grants.processDue(), 0, 'renewed: not due yet');
    h.clock.advance(10_001);
    assert.equal(await h.grants.processDue(), 1);
    const cur = (await h.store.getGrant(g.id))!;
    assert.equal(cur.status, 'revoked');
    assert.equal(cur.revokeReason, 'session-lost');
  });
});
