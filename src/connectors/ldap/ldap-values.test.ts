import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkSsha, parseGeneralizedTime, sshaVerifier, toGeneralizedTime } from './ldap-values.js';

describe('ldap values', () => {
  it('{SSHA}: salted, verifiable, never the plaintext', () => {
    const a = sshaVerifier('s3cret-✓');
    const b = sshaVerifier('s3cret-✓');
    assert.match(a, /^\{SSHA\}[A-Za-z0-9+/]+=*$/);
    assert.notEqual(a, b, 'a fresh salt each time');
    assert.ok(checkSsha('s3cret-✓', a) && checkSsha('s3cret-✓', b));
    assert.ok(!checkSsha('s3cret', a));
    // Known answer, computed independently: base64(SHA1("secret" + "salt") + "salt").
    assert.equal(sshaVerifier('secret', Buffer.from('salt')), '{SSHA}gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx0');
  });

  it('GeneralizedTime: UTC, whole seconds rounded up, round-trips', () => {
    assert.equal(toGeneralizedTime(new Date('2030-01-02T03:04:05.000Z')), '20300102030405Z');
    assert.equal(toGeneralizedTime(new Date('2030-01-02T03:04:05.001Z')), '20300102030406Z');
    assert.throws(() => toGeneralizedTime(new Date(Number.NaN)));
    assert.throws(() => toGeneralizedTime(new Date('+010000-01-01T00:00:00Z')));
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-02'), max: new Date('9999-12-30'), noInvalidDate: true }), (d) => {
        const back = parseGeneralizedTime(toGeneralizedTime(d))!;
        assert.ok(back.getTime() >= d.getTime() && back.getTime() - d.getTime() < 1000);
      }),
    );
  });

  it('parses the forms slapd returns', () => {
    assert.equal(parseGeneralizedTime('20300102030405Z')?.toISOString(), '2030-01-02T03:04:05.000Z');
    assert.equal(parseGeneralizedTime('20300102030405.25Z')?.toISOString(), '2030-01-02T03:04:05.250Z');
    assert.equal(parseGeneralizedTime('20300102030405+0100')?.toISOString(), '2030-01-02T02:04:05.000Z');
    assert.equal(parseGeneralizedTime(undefined), null);
    assert.equal(parseGeneralizedTime('yesterday'), null);
  });
});
