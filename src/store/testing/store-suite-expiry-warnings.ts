// Compliance cases for expiry warnings (core/notify/expiry-warning.ts): which
// grants are listed (active, ending in the window, current end not warned of),
// a claim taken once however many race, rolled back with its transaction, and
// an extended grant listed again for its new end.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/ports.js';
import { makeGrant } from './fixtures.js';

// Far from every other case's grants, so the window sees only this file's.
const base = 4_000_000_000_000;

export function expiryWarningSuite(store: () => Store): void {
  describe('expiry warnings', () => {
    it('lists active grants ending in (now, until], soonest first, up to the limit; warned ends drop out; a new end is listed again', async () => {
      const now = base;
      const soon = makeGrant({ expiresAt: now + 60_000 });
      const sooner = makeGrant({ expiresAt: now + 30_000 });
      const edge = makeGrant({ expiresAt: now + 300_000 });
      const later = makeGrant({ expiresAt: now + 300_001 });
      const past = makeGrant({ expiresAt: now });
      const revoking = makeGrant({ status: 'revoking', expiresAt: now + 10_000 });
      const open = makeGrant({ expiresAt: null });
      for (const g of [soon, sooner, edge, later, past, revoking, open]) await store().insertGrant(g);
      const ids = async (limit = 100) => (await store().listGrantsToWarn(now, now + 300_000, limit)).map((g) => g.id);
      assert.deepEqual(await ids(), [sooner.id, soon.id, edge.id]);
      assert.deepEqual(await ids(2), [sooner.id, soon.id]);
      assert.deepEqual(await store().listGrantsToWarn(now, now + 300_000, 0), []);
      assert.deepEqual((await store().listGrantsToWarn(now, now + 300_000, 1))[0], sooner, 'the whole grant record');

      assert.equal(await store().recordExpiryWarning(sooner.id, sooner.expiresAt!, now), true);
      assert.equal(await store().recordExpiryWarning(sooner.id, sooner.expiresAt!, now + 1), false, 'once per grant end');
      assert.deepEqual(await ids(), [soon.id, edge.id]);

      // Extended: a new end, warned of again.
      assert.equal(await store().casGrant(sooner.id, sooner.version, { expiresAt: now + 200_000 }), true);
      assert.deepEqual(await ids(), [soon.id, sooner.id, edge.id]);
      assert.equal(await store().recordExpiryWarning(sooner.id, now + 200_000, now), true);
      assert.deepEqual(await ids(), [soon.id, edge.id]);
    });

    it('a claim rolls back with its transaction; of several racing claimers exactly one wins', async () => {
      const g = makeGrant({ expiresAt: base + 10_000_000 });
      await store().insertGrant(g);
      await assert.rejects(
        store().transaction(async (tx) => {
          assert.equal(await tx.recordExpiryWarning(g.id, g.expiresAt!, base), true);
          throw new Error('the notification could not be written');
        }),
      );
      const results = await Promise.all(Array.from({ length: 4 }, () => store().transaction((tx) => tx.recordExpiryWarning(g.id, g.expiresAt!, base))));
      assert.deepEqual(results.filter(Boolean).length, 1, JSON.stringify(results));
    });
  });
}
