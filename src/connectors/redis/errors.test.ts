import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TargetError } from '../../core/errors.js';
import { isRetryable, scrub, toTargetError } from './errors.js';

const ctx = { target: 't', operation: 'createAccount', account: 'acct', secrets: ['s3cr3t', 'f00dhash'] };

const replyError = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });

describe('redis errors', () => {
  it('classifies outages as retryable and refusals as final', () => {
    for (const e of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      new Error('Connection is closed.'),
      new Error('Command timed out'),
      replyError('LOADING Redis is loading the dataset in memory'),
      replyError('ERR max number of clients reached'),
      replyError('ERR There was an error trying to save the ACLs. Please check the server logs for more information'),
    ]) {
      assert.equal(isRetryable(e), true, e.message);
    }
    for (const e of [
      replyError("NOPERM this user has no permissions to run the 'acl|setuser' command"),
      replyError('WRONGPASS invalid username-password pair or user is disabled.'),
      replyError("ERR Error in ACL SETUSER modifier '+nope': Unknown command or category name in ACL"),
    ]) {
      assert.equal(isRetryable(e), false, e.message);
    }
  });

  it('names operation and account, adds a hint, scrubs every secret form, attaches no cause', () => {
    const err = toTargetError(ctx, replyError('NOPERM cannot run \'acl|setuser\' for s3cr3t / f00dhash / "s3cr3t"'));
    assert.ok(err instanceof TargetError);
    assert.match(err.message, /^redis target "t": createAccount of account "acct" failed: NOPERM .*README/);
    assert.ok(!err.message.includes('s3cr3t') && !err.message.includes('f00dhash'), err.message);
    assert.equal(err.cause, undefined);
    assert.equal(scrub('a%20b a b', ['a b']), '[redacted] [redacted]');
  });
});
