// Store compliance cases for zero-standing-privilege snapshots (called from
// store-suite.ts): `store()` is the fresh, migrated store of the running test.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/ports.js';
import { hostileStrings, t0 } from './fixtures.js';

export function zspSnapshotSuite(store: () => Store): void {
  describe('zero-standing-privilege snapshots', () => {
    const snap = (target: string, at: number, score: number, holders = 4, standingHolders = 1) => ({ target, at, score, holders, standingHolders });

    it('round-trips, lists oldest first from a time and for one target, keeps the first row of a target and time', async () => {
      const weird = hostileStrings[0]!;
      await store().insertZspSnapshots([snap('pg', t0, 0.75), snap(weird, t0, 1 / 3, 3, 2)]);
      await store().insertZspSnapshots([snap('pg', t0 + 10, 1, 4, 0), snap('pg', t0, 0, 9, 9)]);
      await store().insertZspSnapshots([]);
      assert.deepEqual(
        await store().listZspSnapshots({ since: 0 }),
        [snap('pg', t0, 0.75), snap(weird, t0, 1 / 3, 3, 2), snap('pg', t0 + 10, 1, 4, 0)].sort((a, b) => a.at - b.at || (a.target < b.target ? -1 : 1)),
      );
      assert.deepEqual(await store().listZspSnapshots({ since: t0 + 1, target: 'pg' }), [snap('pg', t0 + 10, 1, 4, 0)]);
      assert.deepEqual(await store().listZspSnapshots({ since: 0, target: 'none' }), []);
    });

    it('gives each target its newest snapshot and prunes the old ones', async () => {
      await store().insertZspSnapshots([snap('a', t0, 0.5), snap('a', t0 + 5, 0.25), snap('b', t0 + 1, 1, 0, 0)]);
      assert.deepEqual(await store().latestZspSnapshots(), [snap('a', t0 + 5, 0.25), snap('b', t0 + 1, 1, 0, 0)]);
      assert.equal(await store().pruneZspSnapshots(t0 + 1), 1);
      assert.deepEqual(
        (await store().listZspSnapshots({ since: 0 })).map((s) => [s.target, s.at]),
        [
          ['b', t0 + 1],
          ['a', t0 + 5],
        ],
      );
      assert.equal(await store().pruneZspSnapshots(t0 + 1), 0);
    });
  });
}
