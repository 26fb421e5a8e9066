import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createOrphanSweep } from './orphan-sweep.js';

describe('orphan sweep (late looks for sessions of dropped roles)', () => {
  let t = 0;
  beforeEach(() => {
    t = 0;
    mock.timers.enable({ apis: ['setTimeout'] });
  });
  afterEach(() => mock.timers.reset());
  const advance = async (ms: number) => {
    for (let i = 0; i < ms; i += 100) {
      t += 100;
      mock.timers.tick(100);
      // Let the look's promise settle.
      for (let k = 0; k < 5; k++) await Promise.resolve();
    }
  };

  it('looks at each OID once it is 1 s old and again at 10 s, in one look per tick, then forgets it', async () => {
    const looks: string[][] = [];
    const warnings: string[] = [];
    const sweep = createOrphanSweep({
      look: async (oids) => (looks.push([...oids].sort()), 0),
      warn: (m) => warnings.push(m),
      describeError: String,
      now: () => t,
    });
    sweep.add('100');
    await advance(500);
    sweep.add('200');
    sweep.add('100'); // already waiting: counted once
    assert.deepEqual(looks, [], 'nothing is looked at before it is a second old');
    await advance(600); // t = 1100: 100 is due, 200 (added at 500) is not
    assert.deepEqual(looks, [['100']]);
    await advance(1000); // t = 2100: the next tick (2000) looks at 200
    assert.deepEqual(looks, [['100'], ['200']]);
    await advance(8000); // t = 10100: 100 is due again (10 s), 200 not yet
    assert.deepEqual(looks, [['100'], ['200'], ['100']]);
    await advance(1000); // t = 11100
    assert.deepEqual(looks, [['100'], ['200'], ['100'], ['200']]);
    assert.equal(sweep.pending(), 0, 'both forgotten after their second look');
    const n = looks.length;
    await advance(5000);
    assert.equal(looks.length, n, 'no looks once nothing is waiting');
    assert.deepEqual(warnings, []);
    await sweep.close();
  });

  it('reports sessions it ended, and a failing look at most once a minute while retrying it', async () => {
    let fail = true;
    let calls = 0;
    const warnings: string[] = [];
    const sweep = createOrphanSweep({
      look: async () => {
        calls++;
        if (fail) throw new Error('connection refused');
        return 2;
      },
      warn: (m) => warnings.push(m),
      describeError: (e) => (e as Error).message,
      now: () => t,
    });
    sweep.add('300');
    await advance(5000);
    assert.ok(calls >= 3, `retried on each tick (${calls} looks)`);
    assert.equal(warnings.length, 1, 'one warning per minute');
    assert.match(warnings[0]!, /could not look for sessions of 1 dropped account\(s\) \(role OIDs 300\): connection refused; retrying/);
    fail = false;
    await advance(1000);
    assert.match(warnings.at(-1)!, /ended 2 session\(s\) of dropped ephemeral accounts/);
    assert.equal(sweep.pending(), 1, 'still waiting for its 10 s look');
    await sweep.close();
  });

  it('keeps at most `cap` OIDs, and says which it left out; close takes one last look, then stops', async () => {
    const warnings: string[] = [];
    const looks: string[][] = [];
    const sweep = createOrphanSweep({
      look: async (oids) => (looks.push([...oids]), 1),
      warn: (m) => warnings.push(m),
      describeError: String,
      cap: 2,
      now: () => t,
    });
    sweep.add('1');
    sweep.add('2');
    sweep.add('3');
    assert.equal(sweep.pending(), 2);
    assert.match(warnings[0]!, /2 dropped accounts are waiting .* role OID 3 is not looked at/);
    await sweep.close();
    assert.deepEqual(looks, [['1', '2']], 'one last look at what was waiting, young as it was');
    assert.match(warnings.at(-1)!, /ended 1 session/);
    await advance(3000);
    assert.equal(looks.length, 1, 'no look after close');
    sweep.add('4');
    await advance(3000);
    assert.equal(looks.length, 1, 'nor for OIDs added after it');
  });
});
