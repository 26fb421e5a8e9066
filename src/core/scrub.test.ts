import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { safeErrorText, scrub } from './scrub.js';

describe('scrub', () => {
  it('removes every echoed form of a known secret', () => {
    const secret = `p'a"ss w/rd`;
    const text = `raw ${secret} sql 'p''a"ss w/rd' json ${JSON.stringify(secret)} url ${encodeURIComponent(secret)}`;
    const out = scrub(text, [secret]);
    assert.ok(!out.includes('ss w/rd') && !out.includes(encodeURIComponent(secret)), out);
  });

  it('masks secret-shaped text even when the secret is unknown', () => {
    assert.equal(scrub("ALTER ROLE x PASSWORD 'hunter2'"), "ALTER ROLE x PASSWORD '[redacted]'");
    assert.equal(scrub('postgres://admin:s3cret@db:5432/app'), 'postgres://admin:[redacted]@db:5432/app');
    assert.equal(scrub('password=hunter2 host=x'), 'password=[redacted] host=x');
    assert.equal(scrub('SCRAM-SHA-256$4096:abc$def:ghi'), 'SCRAM-SHA-256$[redacted]');
  });

  it('masks them in any case and anywhere in longer text (the quick pre-check misses none)', () => {
    assert.equal(scrub("SELECT 1; alter role x pAsSwOrD 'hunter2' VALID UNTIL 'x'"), "SELECT 1; alter role x pAsSwOrD '[redacted]' VALID UNTIL 'x'");
    assert.equal(scrub('see Redis://u:p4ss@h:6379 now'), 'see Redis://u:[redacted]@h:6379 now');
    assert.equal(scrub('dsn host=a PASSWORD: hunter2 port=1'), 'dsn host=a PASSWORD: [redacted] port=1');
    assert.equal(scrub("x 'SCRAM-SHA-256$4096:a$b:c' y"), "x 'SCRAM-SHA-256$[redacted]' y");
    const plain = 'SELECT abalance FROM pgbench_accounts WHERE aid = 42;';
    assert.equal(scrub(plain), plain);
  });

  it('keeps MySQL\'s "(using password: YES)", which says nothing secret', () => {
    assert.equal(scrub("Access denied for user 'a'@'h' (using password: YES)"), "Access denied for user 'a'@'h' (using password: YES)");
  });

  it('bounds error text', () => {
    assert.equal(safeErrorText(new Error('x'.repeat(600))).length, 501);
  });
});
