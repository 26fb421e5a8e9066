import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { childDN, dnKey, escapeDNValue, formatDN, isChildOf, isDN, isWithin, parseDN, type Rdn } from './dn.js';

// Characters that are special somewhere in a DN, mixed into arbitrary Unicode.
const special = fc.constantFrom('\\', ',', '+', '"', ';', '<', '>', '=', '#', ' ', '\0', '\n', '*', '(', ')', 'é', '日', '😀');
const value = fc.string({ unit: fc.oneof(special, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 24 });
const type = fc.constantFrom('uid', 'cn', 'ou', 'dc', 'o', 'member', 'x-Attr-1', '2.5.4.3');
// Plain objects: fast-check may build records without a prototype, which deepEqual tells apart.
const rdn = fc.array(
  fc.record({ type, value }).map((a) => ({ type: a.type, value: a.value })),
  { minLength: 1, maxLength: 3 },
);

describe('escapeDNValue / parseDN (RFC 4514)', () => {
  it('escaping then parsing yields the original value, for any value', () => {
    fc.assert(
      fc.property(value, (v) => {
        assert.deepEqual(parseDN(`uid=${escapeDNValue(v)},ou=stint,dc=x`), [
          [{ type: 'uid', value: v }],
          [{ type: 'ou', value: 'stint' }],
          [{ type: 'dc', value: 'x' }],
        ]);
      }),
      { numRuns: 2000 },
    );
  });

  it('formatDN and parseDN round-trip any DN, multi-valued RDNs included', () => {
    fc.assert(
      fc.property(fc.array(rdn, { minLength: 1, maxLength: 4 }), (rdns: Rdn[]) => {
        assert.deepEqual(parseDN(formatDN(rdns)), rdns);
      }),
      { numRuns: 1000 },
    );
  });

  it('an escaped value never adds structure: one RDN, one AVA, whatever the value', () => {
    fc.assert(
      fc.property(value, (v) => {
        const rdns = parseDN(childDN('uid', v, 'ou=stint,dc=x'));
        assert.equal(rdns.length, 3);
        assert.equal(rdns[0]!.length, 1);
        assert.ok(isChildOf(rdns, parseDN('ou=stint,dc=x')));
      }),
    );
  });

  it('escapes hostile values as RFC 4514 requires', () => {
    const cases: [string, string][] = [
      ['*)(uid=*))(|(uid=*', '*)(uid=*))(|(uid=*'],
      [',cn=admin', '\\,cn=admin'],
      ['a+uid=root', 'a\\+uid=root'],
      ['nul\0byte', 'nul\\00byte'],
      ['#lead', '\\#lead'],
      ['mid#dle', 'mid#dle'],
      [' lead', '\\ lead'],
      ['trail ', 'trail\\ '],
      [' ', '\\ '],
      ['  ', '\\ \\ '],
      ['"q";<a>\\', '\\"q\\"\\;\\<a\\>\\\\'],
      ['日本 é', '日本 é'],
    ];
    for (const [raw, escaped] of cases) assert.equal(escapeDNValue(raw), escaped, JSON.stringify(raw));
    assert.equal(childDN('uid', ',cn=admin', 'dc=x'), 'uid=\\,cn=admin,dc=x');
  });

  it('parses the forms servers return: hex escapes (UTF-8), spaces before types, multi-valued RDNs', () => {
    assert.deepEqual(parseDN('uid=\\23lead,ou=stint'), [[{ type: 'uid', value: '#lead' }], [{ type: 'ou', value: 'stint' }]]);
    assert.deepEqual(parseDN('cn=\\C3\\A9t\\C3\\A9'), [[{ type: 'cn', value: 'été' }]]);
    assert.deepEqual(parseDN('cn=a+uid=b, ou=x'), [
      [
        { type: 'cn', value: 'a' },
        { type: 'uid', value: 'b' },
      ],
      [{ type: 'ou', value: 'x' }],
    ]);
    assert.deepEqual(parseDN('cn=a\\2Cb'), [[{ type: 'cn', value: 'a,b' }]]);
    assert.deepEqual(parseDN(''), []);
    assert.deepEqual(parseDN('cn='), [[{ type: 'cn', value: '' }]]);
  });

  it('refuses what is not a DN', () => {
    for (const bad of [
      'alice',
      '*)(uid=*))(|(uid=*',
      ',cn=admin',
      'cn=a,',
      'cn=a,,dc=x',
      'cn=a"b',
      'cn=a;b',
      'cn=a\\',
      'cn=a\\zz',
      'cn=\\C3',
      'cn= lead',
      'cn=trail ',
      'cn=#04024869',
      '1cn=a',
      'c n=a',
      'cn=a\0b',
    ]) {
      assert.equal(isDN(bad), false, JSON.stringify(bad));
    }
  });

  it('compares DNs case-insensitively and by position', () => {
    const base = parseDN('ou=Stint,dc=X');
    assert.ok(isWithin(parseDN('uid=a,ou=stint,dc=x'), base));
    assert.ok(isWithin(parseDN('ou=stint,dc=x'), base));
    assert.ok(!isWithin(parseDN('uid=a,ou=stint2,dc=x'), base));
    assert.ok(!isWithin(parseDN('dc=x'), base));
    assert.ok(isChildOf(parseDN('uid=a,ou=stint,dc=x'), base));
    assert.ok(!isChildOf(parseDN('uid=a,ou=b,ou=stint,dc=x'), base));
    // A value that merely looks like the base is not the base.
    assert.ok(!isWithin(parseDN('uid=a\\,ou\\=stint\\,dc\\=x'), base));
    assert.equal(dnKey(parseDN('CN=A+uid=B,DC=x')), dnKey(parseDN('uid=b+cn=a,dc=X')));
  });
});
