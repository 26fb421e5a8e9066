import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkAccountText,
  checkGrant,
  escapeDbPattern,
  formatAccount,
  formatGrant,
  nativePasswordHash,
  parseAccount,
  parseGrant,
  quoteAccount,
  unescapeDbPattern,
  utcDateTime,
} from './grammar.js';

describe('mysql grammar: accounts', () => {
  it('splits at the last @ and defaults the host', () => {
    assert.deepEqual(parseAccount('alice', '%'), { user: 'alice', host: '%' });
    assert.deepEqual(parseAccount('alice@10.0.0.%', '%'), { user: 'alice', host: '10.0.0.%' });
    assert.deepEqual(parseAccount('a@b@localhost', '%'), { user: 'a@b', host: 'localhost' });
  });

  it('rejects what MariaDB would alter or refuse', () => {
    assert.equal(checkAccountText('alice@%'), null);
    assert.match(checkAccountText('alice@Host')!, /lowercase/);
    assert.match(checkAccountText('alice@')!, /empty/);
    assert.match(checkAccountText('alice ')!, /whitespace/);
    assert.match(checkAccountText('x'.repeat(129))!, /128/);
    assert.match(checkAccountText('smile😀')!, /Basic Multilingual Plane/);
    assert.match(checkAccountText('nul\0')!, /NUL/);
  });

  it('formats listings so they parse back to the same account', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom('%', 'localhost', '10.0.0.%'), (user, host) => {
        const text = formatAccount({ user, host }, '%');
        assert.deepEqual(parseAccount(text, '%'), { user, host });
      }),
    );
  });

  it('quotes with backticks, doubling backticks, never splitting on dots', () => {
    assert.equal(quoteAccount({ user: 'a`b.c', host: "h'%" }), "`a``b.c`@`h'%`");
  });
});

describe('mysql grammar: grants', () => {
  it('accepts roles and canonical single privileges', () => {
    assert.deepEqual(parseGrant('app_read'), { type: 'role', role: 'app_read' });
    assert.deepEqual(parseGrant('SELECT ON app.*'), { type: 'privilege', privilege: 'SELECT', db: 'app', table: null });
    assert.deepEqual(parseGrant('CREATE TEMPORARY TABLES ON app.*'), { type: 'privilege', privilege: 'CREATE TEMPORARY TABLES', db: 'app', table: null });
    assert.deepEqual(parseGrant('CREATE VIEW ON app.v'), { type: 'privilege', privilege: 'CREATE VIEW', db: 'app', table: 'v' });
    assert.deepEqual(parseGrant('SELECT ON `my-db`.`we``ird tbl`'), { type: 'privilege', privilege: 'SELECT', db: 'my-db', table: 'we`ird tbl' });
  });

  it('refuses global, combined, lowercase, non-canonical and level-mismatched grants with a reason', () => {
    for (const g of [
      'SELECT ON *.*',
      'ALL ON app.*',
      'SELECT, INSERT ON app.*',
      'select on app.*',
      'SELECT ON `app`.*',
      'SELECT  ON app.*',
      'EXECUTE ON app.t',
      'SUPER ON app.*',
      'GRANT OPTION ON app.*',
      'SELECT ON app.*; DROP USER root',
      'SELECT ON app',
      '',
      'none',
      'PUBLIC',
    ]) {
      assert.ok(checkGrant(g), `rejects ${JSON.stringify(g)}`);
    }
    assert.match(checkGrant('SELECT ON `app`.*')!, /"SELECT ON app\.\*"/);
  });

  it('formatGrant is the inverse of parseGrant on canonical strings', () => {
    const ident = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\0') && !/\s$/.test(s));
    fc.assert(
      fc.property(ident, fc.option(ident), (db, table) => {
        const text = formatGrant({ type: 'privilege', privilege: 'SELECT', db, table });
        assert.deepEqual(parseGrant(text), { type: 'privilege', privilege: 'SELECT', db, table });
      }),
    );
  });

  it('escapes database wildcards and reads them back; real patterns read as null', () => {
    assert.equal(escapeDbPattern('app_1%\\'), 'app\\_1\\%\\\\');
    fc.assert(fc.property(fc.string(), (s) => assert.equal(unescapeDbPattern(escapeDbPattern(s)), s)));
    assert.equal(unescapeDbPattern('app_%'), null);
  });
});

describe('mysql grammar: helpers', () => {
  it('computes the mysql_native_password hash (MariaDB PASSWORD())', () => {
    // SELECT PASSWORD('secret') on MariaDB 10.11.
    assert.equal(nativePasswordHash('secret'), '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7');
  });

  it('writes UTC event times rounded down to the second', () => {
    assert.equal(utcDateTime(new Date('2030-01-02T03:04:05.999Z')), '2030-01-02 03:04:05');
  });
});
