import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { keepAlive, pragma } from './keep-alive.js';

test('pragma: a reading pragma gives its row, a setting one runs; keepAlive hands back the object it keeps', () => {
  const opened = new Database(':memory:');
  const db = keepAlive(opened);
  assert.equal(db, opened);
  try {
    const set = pragma(db, 'foreign_keys = OFF') as { changes: number };
    assert.equal(typeof set.changes, 'number', 'a pragma that returns nothing is run, not read');
    assert.deepEqual(pragma(db, 'foreign_keys'), { foreign_keys: 0 });
    pragma(db, 'foreign_keys = ON');
    assert.deepEqual(pragma(db, 'foreign_keys'), { foreign_keys: 1 });
    assert.deepEqual(pragma(db, 'busy_timeout = 1234'), { timeout: 1234 });
    assert.throws(() => pragma(db, 'no such syntax ('), /syntax error/);
  } finally {
    db.close();
  }
});
