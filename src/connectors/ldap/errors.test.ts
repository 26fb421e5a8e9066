import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InsufficientAccessError, InvalidCredentialsError, UnavailableError, BusyError, NoSuchObjectError } from 'ldapts';
import { TargetError } from '../../core/errors.js';
import { isRetryable, scrub, toTargetError } from './errors.js';

const ctx = { target: 't', operation: 'createAccount', account: 'acct', secrets: ['hunter2-secret', '{SSHA}abcdef'] };

describe('ldap errors', () => {
  it('outages are retryable; refusals are not', () => {
    for (const e of [
      new UnavailableError('down'),
      new BusyError('busy'),
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      new Error('Connection timeout'),
      new Error('Connection closed before message response was received. Message type: SearchRequest (0x63)'),
    ]) {
      assert.equal(isRetryable(e), true, String(e));
    }
    for (const e of [new InvalidCredentialsError('no'), new InsufficientAccessError('no'), new NoSuchObjectError(''), new Error('weird')]) {
      assert.equal(isRetryable(e), false, String(e));
    }
  });

  it('names the operation, the account and the LDAP result, with a hint, and no secret', () => {
    const e = toTargetError(ctx, new InsufficientAccessError('no write access to hunter2-secret and {SSHA}abcdef'));
    assert.ok(e instanceof TargetError);
    assert.equal(e.retryable, false);
    assert.match(
      e.message,
      /^ldap target "t": createAccount of account "acct" failed: insufficientAccessRights \(LDAP result 50\): no write access to \[redacted\] and \[redacted\]\. the admin credential lacks/,
    );
    assert.equal(e.cause, undefined);
    assert.equal(scrub('x "hunter2-secret" y', ctx.secrets), 'x "[redacted]" y');
  });

  it('keeps a connector TargetError, scrubbed', () => {
    const e = toTargetError(ctx, new TargetError('t', 'bad hunter2-secret', true));
    assert.equal(e.retryable, true);
    assert.equal(e.message, 'bad [redacted]');
  });
});
