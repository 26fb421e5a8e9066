import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretPool } from './secret-pool.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('secret pool', () => {
  it('hands out each secret once, prepared on its target before it is handed out', async () => {
    const prepared = new Map<string, string>();
    let n = 0;
    const pool = createSecretPool({ size: 4, generate: () => `s${++n}`, prepare: (t, s) => (prepared.set(s, t), true) });
    const first = pool.take('pg');
    assert.equal(prepared.has(first), false, 'an empty pool gives a fresh secret');
    await tick();
    assert.equal(prepared.size, 4);
    const seen = new Set([first]);
    for (let i = 0; i < 20; i++) {
      const s = pool.take('pg');
      assert.ok(!seen.has(s), 'never the same secret twice');
      seen.add(s);
      if (i < 4) assert.equal(prepared.get(s), 'pg', `${s} was prepared for pg`);
      await tick();
    }
    // Pools are per target: a secret prepared for one target is never used on another.
    const other = pool.take('mysql');
    assert.ok(!prepared.has(other) || prepared.get(other) === 'mysql');
  });

  it('gives fresh secrets, and stops trying, for a target whose connector prepares nothing', async () => {
    let asked = 0;
    let n = 0;
    const pool = createSecretPool({ size: 4, generate: () => `s${++n}`, prepare: () => (asked++, false) });
    const a = pool.take('redis');
    await tick();
    const b = pool.take('redis');
    await tick();
    assert.notEqual(a, b);
    assert.equal(asked, 1);
  });

  it('a connector that throws while preparing is treated as one that prepares nothing', async () => {
    const pool = createSecretPool({
      size: 2,
      prepare: () => {
        throw new Error('no');
      },
    });
    pool.take('pg');
    await tick();
    assert.match(pool.take('pg'), /^[A-Za-z0-9_-]{43}$/);
  });
});
