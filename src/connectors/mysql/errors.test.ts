import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TargetError } from '../../core/errors.js';
import { nativePasswordHash } from './grammar.js';
import { isRetryable, scrub, toTargetError } from './errors.js';

const ctx = { target: 't', operation: 'createAccount', account: 'acct', secrets: ["s3cr'et\\x"] };
const serverError = (errno: number, sqlMessage: string) => Object.assign(new Error(sqlMessage), { errno, sqlMessage, code: 'X', sql: 'CREATE USER ...' });

describe('mysql errors', () => {
  it('treats outages as retryable and refusals as final', () => {
    for (const e of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }),
      serverError(1053, 'Server shutdown in progress'),
      serverError(1040, 'Too many connections'),
      serverError(1213, 'Deadlock found'),
      new Error("Can't add new command when connection is in closed state"),
    ])
      assert.equal(isRetryable(e), true, String(e));
    for (const e of [serverError(1045, 'Access denied'), serverError(1959, 'Invalid role specification'), serverError(1146, "Table doesn't exist")]) {
      assert.equal(isRetryable(e), false, String(e));
    }
  });

  it('scrubs every form of the secret, its hash, and any hash', () => {
    const secret = ctx.secrets[0]!;
    const text = `a ${secret} b s3cr\\'et\\\\x c ${nativePasswordHash(secret)} d *0123456789ABCDEF0123456789ABCDEF01234567`;
    const out = scrub(text, ctx.secrets);
    assert.ok(!out.includes('s3cr') && !/\*[0-9A-F]{40}/.test(out), out);
  });

  it('names operation, account and errno, adds a hint, and attaches nothing', () => {
    const e = toTargetError(ctx, serverError(1959, 'Invalid role specification `x`'));
    assert.ok(e instanceof TargetError);
    assert.match(e.message, /^mysql target "t": createAccount of account "acct" failed: Invalid role specification `x` \[1959\]\. a role named/);
    assert.equal(e.cause, undefined);
    assert.equal(e.retryable, false);
  });
});
