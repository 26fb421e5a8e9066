import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { checkEphemeralName } from './connector.js';
import { ldapModule } from './module.js';
import { ldapSettingsSchema } from './settings.js';

const base = { url: 'ldap://ldap.internal:389', baseDN: 'dc=example,dc=com', ephemeralOU: 'ou=stint,dc=example,dc=com' };

describe('ldap module', () => {
  it('validates settings with defaults', () => {
    const s = ldapSettingsSchema.parse(base);
    assert.equal(s.marker, 'stint-managed');
    assert.equal(s.expiry, 'ppolicy');
    assert.ok(z.object(ldapModule.settings).safeParse(base).success);
  });

  it('refuses bad URLs, non-DNs and OUs outside the base', () => {
    for (const bad of [
      { ...base, url: 'http://x' },
      { ...base, url: 'ldap://user:pw@x' },
      { ...base, url: 'ldap://x/dc=a' },
      { ...base, baseDN: 'example.com' },
      { ...base, ephemeralOU: 'ou=stint,dc=other,dc=com' },
      { ...base, groupBaseDN: 'ou=groups,dc=other' },
      { ...base, marker: 'has space' },
      { ...base, unknown: 1 },
    ]) {
      assert.equal(ldapSettingsSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    assert.ok(ldapSettingsSchema.safeParse({ ...base, url: 'ldaps://x', groupBaseDN: 'ou=Groups,DC=example,dc=com' }).success);
  });

  it('grants and own accounts are DNs', () => {
    assert.equal(ldapModule.checkGrant('cn=app-readers,ou=groups,dc=example,dc=com'), null);
    assert.equal(ldapModule.checkAccount('uid=alice,ou=people,dc=example,dc=com'), null);
    for (const bad of ['app-readers', '*)(uid=*', 'cn=a,', 'cn=,dc=x']) {
      assert.notEqual(ldapModule.checkGrant(bad), null, bad);
      assert.notEqual(ldapModule.checkAccount(bad), null, bad);
    }
  });

  it('ephemeral names: any well-formed text up to 256 characters without NUL', () => {
    assert.equal(checkEphemeralName('stint_alice_abc123'), null);
    assert.equal(checkEphemeralName('*)(uid=*'), null);
    for (const bad of ['', 'a\0b', 'x'.repeat(257), 'lone\uD800']) assert.notEqual(checkEphemeralName(bad), null);
  });
});
