import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDN } from '../ldap/dn.js';
import { adChildDN, adDN, builtinPrivilegedGroup, fromFileTime, isPlainSam, samFor, sidToString, toFileTime, unicodePwd } from './ad-values.js';

describe('ad values', () => {
  it('unicodePwd is the quoted password in UTF-16LE', () => {
    assert.deepEqual(unicodePwd('aé'), Buffer.from([0x22, 0, 0x61, 0, 0xe9, 0, 0x22, 0]));
  });

  it('accountExpires: FILETIME exact to the millisecond, round-trips; 0 and 2^63-1 mean never', () => {
    assert.equal(toFileTime(new Date('1970-01-01T00:00:00Z')), '116444736000000000');
    assert.equal(toFileTime(new Date('2030-01-02T03:04:05.678Z')), '135380270456780000');
    assert.equal(fromFileTime('0'), null);
    assert.equal(fromFileTime('9223372036854775807'), null);
    assert.equal(fromFileTime('not a number'), null);
    assert.throws(() => toFileTime(new Date(Number.NaN)));
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }), (d) => {
        assert.equal(fromFileTime(toFileTime(d))!.getTime(), d.getTime());
      }),
    );
  });

  it('SIDs: binary to S-1-… form', () => {
    const sid = Buffer.from('010500000000000515000000afbd154eb55377d5d002be9a00020000', 'hex');
    assert.equal(sidToString(sid), 'S-1-5-21-1310047663-3581367221-2596143824-512');
    assert.throws(() => sidToString(Buffer.from('0105', 'hex')));
  });

  it('built-in privileged groups are known by SID, not name', () => {
    const dom = 'S-1-5-21-1-2-3';
    assert.equal(builtinPrivilegedGroup(`${dom}-512`, dom), 'Domain Admins');
    assert.equal(builtinPrivilegedGroup(`${dom}-518`, dom), 'Schema Admins');
    assert.equal(builtinPrivilegedGroup(`${dom}-519`, dom), 'Enterprise Admins');
    assert.equal(builtinPrivilegedGroup('S-1-5-21-9-9-9-519', dom), 'Enterprise Admins', 'forest root domain');
    assert.equal(builtinPrivilegedGroup('S-1-5-32-544', dom), 'Administrators');
    assert.equal(builtinPrivilegedGroup('S-1-5-32-548', dom), 'Account Operators');
    for (const other of [`${dom}-513`, `${dom}-1105`, 'S-1-5-32-549', `${dom}-5120`]) assert.equal(builtinPrivilegedGroup(other, dom), null, other);
  });

  it('sAMAccountName: plain short names as they are, others a stable 20-character derivation', () => {
    assert.equal(samFor('alice_x1'), 'alice_x1');
    assert.ok(!isPlainSam('stint_alice_abcdef_1x') && isPlainSam('stint_alice_abcdef_1'));
    for (const name of ['stint_alice_x1y2z3_long', ',CN=admin', 'a"b', 'back\\slash', '日本', 'trailing.']) {
      const sam = samFor(name);
      assert.match(sam, /^stint-[a-z2-7]{14}$/, name);
      assert.equal(samFor(name), sam, 'stable');
    }
    assert.notEqual(samFor('stint_alice_x1y2z3_long'), samFor('stint_alice_x1y2z3_lonG'));
  });

  it('DNs for AD escape = as well, and round-trip any value as one RDN', () => {
    assert.equal(adChildDN('CN', ',CN=admin', 'OU=Stint,DC=x'), 'CN=\\,CN\\=admin,OU=Stint,DC=x');
    assert.equal(adChildDN('CN', 'a+cn=root#', 'DC=x'), 'CN=a\\+cn\\=root#,DC=x');
    assert.equal(adDN('CN=a=b,DC=x'), 'CN=a\\=b,DC=x');
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (v) => {
        const rdns = parseDN(adChildDN('CN', v, 'OU=Stint,DC=x'));
        assert.equal(rdns.length, 3);
        assert.deepEqual(rdns[0], [{ type: 'CN', value: v }]);
      }),
    );
  });
});
