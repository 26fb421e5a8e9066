import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEscapes, decodeUnicodeEscapes, findCredentialChange } from './credential-guard.js';

const found = (sql: string) => findCredentialChange(sql)?.statement ?? null;

describe('credential guard', () => {
  it('finds a role giving itself a password, however it is written', () => {
    for (const sql of [
      "alter role current_user password 'x'",
      "ALTER ROLE CURRENT_USER PASSWORD 'x'",
      "ALTER USER session_user WITH PASSWORD 'x'",
      "alter role current_role encrypted password 'x'",
      "ALTER ROLE stint_alice_k3j9x2 PASSWORD 'x'",
      `ALTER ROLE "stint_alice_k3j9x2" PASSWORD 'x'`,
      `ALTER USER "Odd ""name""" PASSWORD 'x'`,
      "AlTeR\n\tRoLe\r\n  current_user\fWITH\vPaSsWoRd 'x'",
      "alter/* a */role/* b /* nested */ c */current_user--x\npassword 'x'",
      'alter role current_user password $$x$$',
      'alter role current_user password $pw$x$pw$',
      "alter role current_user password E'x\\'y'",
      'alter role current_user password NULL',
      // psql's \password sends this.
      "ALTER USER stint_alice_k3j9x2 PASSWORD 'SCRAM-SHA-256$4096:abc=$def=:ghi='",
      "CREATE ROLE other LOGIN PASSWORD 'x'",
      "create user other password 'x'",
    ])
      assert.ok(found(sql), sql);
  });

  it('finds it anywhere in a multi-statement string, after comments and strings with semicolons', () => {
    assert.equal(found("SELECT 1; SELECT ';'; alter role current_user password 'x'; SELECT 2"), 'ALTER ROLE … PASSWORD');
    assert.equal(found("SELECT $$;$$ ; -- ;\n/* ; */ ALTER ROLE current_user PASSWORD 'x'"), 'ALTER ROLE … PASSWORD');
    assert.equal(found("begin; alter role current_user password 'x'; commit"), 'ALTER ROLE … PASSWORD');
  });

  it('finds it in a DO block, a function body and EXECUTE of a literal, spelt with escapes too', () => {
    assert.ok(found("DO $$ BEGIN ALTER ROLE current_user PASSWORD 'x'; END $$"));
    assert.ok(found("DO $body$ BEGIN EXECUTE 'alter role ' || quote_ident(current_user) || ' password ''x'''; END $body$"));
    assert.ok(found("DO $$BEGIN EXECUTE 'ALTER ROLE current_user PASSWORD ''x'''; END$$"));
    assert.ok(found("CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS 'BEGIN ALTER ROLE current_user PASSWORD ''x''; END'"));
    assert.ok(found("DO E'BEGIN ALTER ROLE current_user \\x50ASSWORD ''x''; END'"));
    assert.ok(found("DO U&'BEGIN ALTER ROLE current_user \\0050ASSWORD ''x''; END'"));
    // A client's standard_conforming_strings=off makes '\'' part of a string; a lexer that disagrees still sees the text.
    assert.ok(found("SELECT 'a\\' , ' ; ALTER ROLE current_user PASSWORD $$x$$; --'"));
    // A literal that holds such a statement counts, as EXECUTE could run it (the price: refusing that text as data).
    assert.ok(found("SELECT 'alter role current_user password ''x'''"));
  });

  it('leaves everything else alone', () => {
    for (const sql of [
      'SELECT 1',
      "SELECT * FROM users WHERE password = 'x'",
      'ALTER ROLE current_user SET search_path = app',
      "ALTER ROLE current_user SET password_encryption = 'scram-sha-256'",
      'ALTER TABLE t ADD COLUMN password text',
      `ALTER ROLE current_user SET "password" = 'x'`,
      'CREATE TABLE password (id int)',
      "UPDATE accounts SET password = crypt('x', gen_salt('bf'))",
      'GRANT app_read TO current_user',
      '',
      ';;;',
      "SELECT E'\\\\'",
    ])
      assert.equal(found(sql), null, sql);
  });

  it('unterminated strings, comments and dollar bodies do not throw', () => {
    for (const sql of ["SELECT 'abc", 'SELECT /* abc', 'SELECT $$abc', 'SELECT "abc', "E'\\", 'U&"x', '$1 $'])
      assert.doesNotThrow(() => findCredentialChange(sql));
  });

  it('decodes backslash escapes as PostgreSQL does', () => {
    assert.equal(decodeEscapes('\\x50\\101\\u0053\\U00000053\\n\\q'), 'PASS\nq');
    assert.equal(decodeUnicodeEscapes('\\0050\\+000041x'), 'PAx');
  });
});
