import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EqualityFilter, FilterParser, OrFilter } from 'ldapts';
import { and, equals, escapeFilterValue, or, unescapeFilterValue } from './filter.js';

const special = fc.constantFrom('*', '(', ')', '\\', '\0', '|', '&', '!', '=', '~', '>', '<', ',', ' ', 'é', '日', '😀');
const value = fc.string({ unit: fc.oneof(special, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 24 });

describe('escapeFilterValue (RFC 4515)', () => {
  it('escaping then unescaping yields the original, for any value', () => {
    fc.assert(
      fc.property(value, (v) => assert.equal(unescapeFilterValue(escapeFilterValue(v)), v)),
      { numRuns: 2000 },
    );
  });

  it('the driver parses an escaped value back to the original, as one equality assertion', () => {
    fc.assert(
      fc.property(value, (v) => {
        const f = FilterParser.parseString(equals('uid', v));
        assert.ok(f instanceof EqualityFilter, `one equality filter for ${JSON.stringify(v)}`);
        assert.equal(f.attribute, 'uid');
        assert.equal(f.value, v);
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes hostile values so they cannot widen a filter', () => {
    assert.equal(escapeFilterValue('*)(uid=*))(|(uid=*'), '\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a');
    assert.equal(escapeFilterValue('a\\b\0'), 'a\\5cb\\00');
    assert.equal(escapeFilterValue('日本 é'), '日本 é');
    const f = FilterParser.parseString(or(equals('member', '*)(uid=*'), equals('uniqueMember', 'x')));
    assert.ok(f instanceof OrFilter);
    assert.equal(f.filters.length, 2);
    assert.equal((f.filters[0] as EqualityFilter).value, '*)(uid=*');
    assert.equal(and(equals('a', '1'), equals('b', '2')), '(&(a=1)(b=2))');
  });

  it('refuses malformed escapes and attribute names that are not names', () => {
    assert.throws(() => unescapeFilterValue('a\\zz'));
    assert.throws(() => unescapeFilterValue('a*'));
    assert.throws(() => unescapeFilterValue('\\c3'));
    assert.throws(() => equals('uid)(x', 'v'));
  });
});
