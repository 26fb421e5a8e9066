// Store compliance, claimed work and broker heartbeats: every store hands a
// due grant to one claimant, takes a claim over only once it lapses, renews
// only its holder's, and lists live brokers with the work each holds.

import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/ports.js';
import { makeGrant, t0 } from './fixtures.js';
import type { MakeStore } from './store-suite.js';

export function claimsSuite(name: string, makeStore: MakeStore): void {
  describe(`Store compliance: ${name}: claims and brokers`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });
    const now = t0 + 1_000_000;

    it('claims each due grant once, skips live claims and what is not due, and takes over a lapsed claim', async () => {
      const expired = Array.from({ length: 5 }, () => makeGrant({ status: 'active', expiresAt: now - 10 }));
      const retry = makeGrant({ status: 'revoke-failing', nextAttemptAt: now - 5 });
      const later = makeGrant({ status: 'active', expiresAt: now + 60_000 });
      const heldElsewhere = makeGrant({ status: 'active', expiresAt: now - 20, claimedBy: 'b2', claimedUntil: now + 5_000 });
      const lapsed = makeGrant({ status: 'revoking', nextAttemptAt: now - 1, claimedBy: 'b2', claimedUntil: now - 1 });
      for (const g of [...expired, retry, later, heldElsewhere, lapsed]) await store.insertGrant(g);

      const first = await store.claimDueGrants(now, 4, 'b1', now + 5_000);
      const second = await store.claimDueGrants(now, 100, 'b3', now + 5_000);
      const again = await store.claimDueGrants(now, 100, 'b1', now + 5_000);
      assert.equal(first.length, 4);
      assert.equal(again.length, 0, "a broker's own live claims are work in hand, not claimed again");
      const ids = [...first, ...second].map((g) => g.id).sort();
      assert.deepEqual(ids, [...expired, retry, lapsed].map((g) => g.id).sort(), 'each due grant once; never one held elsewhere or not due');
      for (const g of first) assert.equal((await store.getGrant(g.id))!.claimedBy, 'b1');
      const took = second.find((g) => g.id === lapsed.id)!;
      assert.deepEqual([took.claimedBy, took.claimedUntil, took.version], ['b3', now + 5_000, lapsed.version], 'a claim does not bump the version');
    });

    it('claimGrant: free, lapsed or own only (force: any); renewClaims moves only the holder’s', async () => {
      const g = makeGrant({ status: 'revoking', claimedBy: 'b1', claimedUntil: now + 5_000 });
      await store.insertGrant(g);
      assert.equal(await store.claimGrant(g.id, 'b2', now, now + 9_000), undefined);
      assert.equal((await store.claimGrant(g.id, 'b1', now, now + 6_000))?.claimedUntil, now + 6_000);
      assert.equal(await store.renewClaims([g.id, 'nope'], 'b2', now + 99_000), 0);
      assert.equal(await store.renewClaims([g.id], 'b1', now + 7_000), 1);
      assert.equal((await store.getGrant(g.id))!.claimedUntil, now + 7_000);
      assert.equal((await store.claimGrant(g.id, 'b2', now + 7_000, now + 12_000))?.claimedBy, 'b2', 'lapsed: taken over');
      assert.equal((await store.claimGrant(g.id, 'b3', now, now + 1, true))?.claimedBy, 'b3', 'force');
      assert.equal(await store.claimGrant('gr_missing', 'b1', now, now + 1), undefined);
    });

    it('lists live brokers with the claims they hold, and prunes dead ones', async () => {
      const base = { address: 'http://127.0.0.1:1', version: '0.1.0', configDigest: 'aa' };
      await store.putBroker({ ...base, id: 'b1', startedAt: now - 100, heartbeatAt: now - 100 });
      await store.putBroker({ ...base, id: 'b1', startedAt: now - 1, heartbeatAt: now, configDigest: 'bb' });
      await store.putBroker({ ...base, id: 'b2', startedAt: now - 50, heartbeatAt: now - 40_000 });
      await store.insertGrant(makeGrant({ status: 'revoking', claimedBy: 'b1', claimedUntil: now + 1 }));
      await store.insertGrant(makeGrant({ status: 'revoking', claimedBy: 'b1', claimedUntil: now - 1 }));
      await store.insertGrant(makeGrant({ status: 'revoked', claimedBy: 'b1', claimedUntil: now + 1 }));
      const live = await store.listBrokers(now - 30_000, now);
      assert.deepEqual(
        live,
        [{ ...base, id: 'b1', startedAt: now - 100, heartbeatAt: now, configDigest: 'bb', heldGrants: 1 }],
        'started stays; one live claim',
      );
      assert.equal(await store.deleteBrokers(now - 30_000), 1);
      assert.equal((await store.listBrokers(0, now)).length, 1);
      assert.equal(await store.deleteBrokers(Number.MIN_SAFE_INTEGER, 'b1'), 1);
      assert.deepEqual(await store.listBrokers(0, now), []);
    });
  });
}
