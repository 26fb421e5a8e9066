import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nullLogger } from '../ports.js';
import type { ReconcileInput, ReconcileReport } from './reconcile-service.js';
import { createReconcileWorker } from './reconcile-worker.js';

const report = (): ReconcileReport => ({ dryRun: false, startedAt: 0, finishedAt: 0, targets: [], zsp: { score: null, holders: 0, standingHolders: 0 } });

test('runs periodically as stint, acting; keeps going after a failed run; stop waits for the run in progress', async () => {
  const seen: ReconcileInput[] = [];
  let n = 0;
  const worker = createReconcileWorker({
    log: nullLogger,
    initialDelayMs: 5,
    intervalMs: 5,
    reconcile: {
      async reconcile(input) {
        seen.push(input);
        if (++n === 1) throw new Error('store down');
        await new Promise((r) => setTimeout(r, 5));
        return report();
      },
    },
  });
  worker.start();
  while (seen.length < 3) await new Promise((r) => setTimeout(r, 5));
  await worker.stop();
  const after = seen.length;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(seen.length, after, 'no run after stop');
  assert.deepEqual(seen[0], { dryRun: false, actor: 'stint' });
});
