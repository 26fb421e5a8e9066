// The expiry worker's scheduling with a fake clock and mocked timers: it
// sleeps until the next due moment (at most maxSleepMs), wake() runs a pass
// at once, and dueBy() only brings the timer forward.

import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { nullLogger } from '../ports.js';
import { createExpiryWorker } from './expiry-worker.js';

const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('expiry worker scheduling', () => {
  let now = 1_000_000;
  let passes = 0;
  let nextDue: number | null = null;
  const clock = { now: () => now };
  const advance = async (ms: number) => {
    now += ms;
    mock.timers.tick(ms);
    await flush();
  };
  const make = () =>
    createExpiryWorker({
      store: { nextDueAt: async () => nextDue },
      grants: { processDue: async () => (passes++, 0) },
      requests: { expireStale: async () => 0 },
      clock,
      log: nullLogger,
      maxSleepMs: 1000,
    });

  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout'] });
    passes = 0;
    nextDue = null;
  });
  afterEach(() => mock.timers.reset());

  it('sleeps at most maxSleepMs, and until the next due time when that is sooner', async () => {
    const w = make();
    w.start();
    await flush();
    assert.equal(passes, 1);
    await advance(999);
    assert.equal(passes, 1);
    await advance(1);
    assert.equal(passes, 2);
    nextDue = now + 1000 + 300;
    await advance(1000);
    assert.equal(passes, 3);
    await advance(299);
    assert.equal(passes, 3);
    await advance(1);
    assert.equal(passes, 4);
    await w.stop();
  });

  it('dueBy brings the timer forward without a pass of its own, and never pushes it back', async () => {
    const w = make();
    w.start();
    await flush();
    assert.equal(passes, 1);
    w.dueBy(now + 200);
    await flush();
    assert.equal(passes, 1, 'no pass just for the hint');
    w.dueBy(now + 900);
    await advance(199);
    assert.equal(passes, 1);
    await advance(1);
    assert.equal(passes, 2, 'the earlier hint won');
    // A hint later than the planned wake-up changes nothing.
    w.dueBy(now + 5000);
    await advance(1000);
    assert.equal(passes, 3);
    await w.stop();
  });

  it('a hint given while a pass is running is honoured by the schedule that follows it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    const w = createExpiryWorker({
      store: { nextDueAt: async () => null },
      grants: {
        processDue: async () => {
          passes++;
          if (first) {
            first = false;
            await gate;
          }
          return 0;
        },
      },
      requests: { expireStale: async () => 0 },
      clock,
      log: nullLogger,
      maxSleepMs: 1000,
    });
    w.start();
    await flush();
    w.dueBy(now + 100);
    release();
    await flush();
    assert.equal(passes, 1);
    await advance(100);
    assert.equal(passes, 2);
    await w.stop();
  });

  it('wake runs a pass at once', async () => {
    const w = make();
    w.start();
    await flush();
    w.wake();
    await flush();
    assert.equal(passes, 2);
    await w.stop();
  });
});
