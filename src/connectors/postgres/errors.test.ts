import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { TargetError } from '../../core/errors.js';
import { isRetryable, scrub, toTargetError } from './errors.js';

function dbError(code: string, message: string, detail?: string): pg.DatabaseError {
  const e = new pg.DatabaseError(message, message.length, 'error');
  e.code = code;
  if (detail) e.detail = detail;
  return e;
}

const nodeError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });

describe('postgres error mapping', () => {
  it('scrubs a secret in every form it can take in text', () => {
    const secret = `p'a"s\\s word/ü`;
    const forms = [secret, secret.replace(/'/g, "''").replace(/\\/g, '\\\\'), JSON.stringify(secret), encodeURIComponent(secret)];
    for (const f of forms) {
      const out = scrub(`before ${f} after`, [secret]);
      assert.ok(!out.includes('word/'), out);
      assert.match(out, /\[redacted\]/);
    }
    assert.equal(scrub('nothing here', ['', 'absent']), 'nothing here');
  });

  it('classifies connection and overload problems as retryable', () => {
    for (const code of ['08006', '08001', '57P01', '57P03', '53300', '40P01', '55P03']) {
      assert.equal(isRetryable(dbError(code, 'x')), true, code);
    }
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH']) assert.equal(isRetryable(nodeError(code)), true, code);
    assert.equal(isRetryable(new AggregateError([nodeError('ECONNREFUSED'), nodeError('ECONNREFUSED')])), true);
    assert.equal(isRetryable(new Error('timeout exceeded when trying to connect')), true);
    assert.equal(isRetryable(new Error('Connection terminated unexpectedly')), true);
  });

  it('classifies permission, syntax and missing-object problems as final', () => {
    for (const code of ['42501', '42601', '42704', '2BP01', '28P01', '42710']) {
      assert.equal(isRetryable(dbError(code, 'x')), false, code);
    }
    assert.equal(isRetryable(new Error('something odd')), false);
  });

  it('names target, operation and account, keeps detail and SQLSTATE, and drops the secret', () => {
    const err = toTargetError(
      { target: 'db1', operation: 'createAccount', account: 'x"; --', database: 'app', secrets: ['hunter2'] },
      dbError('42704', 'role "hunter2" does not exist', 'while granting hunter2'),
    );
    assert.ok(err instanceof TargetError);
    assert.equal(err.target, 'db1');
    assert.equal(err.retryable, false);
    assert.ok(err.message.startsWith('postgres target "db1": createAccount of account "x\\"; --" failed: role "[redacted]" does not exist'), err.message);
    assert.match(err.message, /\(while granting \[redacted\]\) \[42704\]/);
    assert.ok(!err.message.includes('hunter2'));
    assert.equal(err.cause, undefined);
  });

  it('explains dependent objects, naming the connected database', () => {
    const err = toTargetError(
      { target: 'db1', operation: 'removeAccount', account: 'a', database: 'app', secrets: [] },
      dbError('2BP01', 'role "a" cannot be dropped because some objects depend on it', '1 object in database other'),
    );
    assert.match(err.message, /1 object in database other/);
    assert.match(err.message, /only act on the connected database "app"/);
    assert.match(err.message, /NOLOGIN/);
  });
});
