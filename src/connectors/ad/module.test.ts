import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../config/load.js';
import { checkEphemeralName } from './ad-rules.js';
import { adModule } from './module.js';
import { adSettingsSchema } from './settings.js';

const base = { urls: ['ldaps://dc1.corp.example'], baseDN: 'DC=corp,DC=example', ephemeralOU: 'OU=Stint,DC=corp,DC=example' };

describe('ad module', () => {
  it('validates settings with defaults; the realm comes from baseDN', () => {
    const s = adSettingsSchema.parse(base);
    assert.equal(s.marker, 'stint-managed');
    // allowBuiltinPrivileged is a profile's field (config/cross-check.ts), not the target's.
    assert.equal(adSettingsSchema.safeParse({ ...base, allowBuiltinPrivileged: true }).success, false);
    assert.equal(adSettingsSchema.parse({ ...base, realm: 'corp.example' }).realm, 'CORP.EXAMPLE');
  });

  it('refuses bad URLs, non-DNs, OUs outside the base and unknown fields', () => {
    for (const bad of [
      { ...base, urls: [] },
      { ...base, urls: ['http://dc1'] },
      { ...base, urls: ['ldaps://u:p@dc1'] },
      { ...base, urls: ['ldaps://dc1/DC=x'] },
      { ...base, baseDN: 'corp.example' },
      { ...base, ephemeralOU: 'OU=Stint,DC=other,DC=example' },
      { ...base, groupBaseDN: 'OU=Groups,DC=other' },
      { ...base, baseDN: 'O=corp', ephemeralOU: 'OU=Stint,O=corp' },
      { ...base, tlsServerName: 'not a name' },
      { ...base, unknown: 1 },
    ]) {
      assert.equal(adSettingsSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    assert.ok(adSettingsSchema.safeParse({ ...base, urls: ['ldap://dc2:389', 'ldaps://[::1]:636'], tlsServerName: 'dc1.corp.example' }).success);
  });

  it('grants are group DNs or sAMAccountNames; own accounts sAMAccountName, UPN or DN', () => {
    for (const ok of ['CN=SQL Admins,OU=Groups,DC=corp,DC=example', 'SQL Admins', 'server-tier1-admins']) assert.equal(adModule.checkGrant(ok), null, ok);
    for (const bad of ['CN=a,', 'a*', 'x,y', ' lead', '', 'a\0b']) assert.notEqual(adModule.checkGrant(bad), null, bad);
    for (const ok of ['alice', 'alice@corp.example', 'CN=Alice,OU=People,DC=corp,DC=example']) assert.equal(adModule.checkAccount(ok), null, ok);
    for (const bad of ['a'.repeat(21), 'a,b', 'a@b c', 'x\\y', '*']) assert.notEqual(adModule.checkAccount(bad), null, bad);
  });

  it('ephemeral names: up to 64 characters (cn), no NUL', () => {
    assert.equal(checkEphemeralName('stint_alice_abc123'), null);
    assert.equal(checkEphemeralName(',CN=admin"\\#'), null);
    for (const bad of ['', 'a\0b', 'x'.repeat(65), 'lone\uD800']) assert.notEqual(checkEphemeralName(bad), null);
  });

  it('an ad target and its profiles load from the config file', () => {
    const { catalog } = parseConfigText(
      `
targets:
  - name: corp
    kind: ad
    urls: ["ldaps://dc1.corp.example", "ldaps://dc2.corp.example"]
    caFile: /etc/stint/corp-ca.pem
    baseDN: "DC=corp,DC=example"
    ephemeralOU: "OU=Stint,DC=corp,DC=example"
    admin: { user: "svc-stint@CORP.EXAMPLE", passwordEnv: AD }
profiles:
  - { name: sql-admins, target: corp, mode: own-account, grants: ["CN=SQL Admins,OU=Groups,DC=corp,DC=example"], maxDuration: 1h }
  - { name: tier1, target: corp, mode: ephemeral-account, grants: [tier1-server-admins], maxDuration: 1h }
policies:
  - { name: all, subjects: { groups: [ops] }, profiles: ["*"], approval: auto }
users:
  - { name: alice, groups: [ops], accounts: { corp: alice } }
`,
      'stint.yaml',
    );
    assert.equal(catalog.targets.get('corp')!.kind, 'ad');
    assert.deepEqual(catalog.profiles.get('tier1')!.grants, ['tier1-server-admins']);
  });

  it('allowBuiltinPrivileged is a profile field of ad targets; elsewhere it is refused at its line', () => {
    const text = (kind: string) => `
targets:
  - name: corp
    kind: ${kind}
${kind === 'ad' ? '    urls: ["ldaps://dc1.corp.example"]\n    baseDN: "DC=corp,DC=example"\n    ephemeralOU: "OU=Stint,DC=corp,DC=example"\n    admin: { user: "svc-stint@CORP.EXAMPLE", passwordEnv: AD }' : '    url: ldaps://ldap.corp.example\n    baseDN: dc=corp,dc=example\n    ephemeralOU: ou=stint,dc=corp,dc=example\n    admin: { user: stint, passwordEnv: LDAP }'}
profiles:
  - { name: plain, target: corp, mode: own-account, grants: ["CN=ops,DC=corp,DC=example"], maxDuration: 1h }
  - name: domain-admins
    target: corp
    mode: own-account
    grants: ["CN=ops,DC=corp,DC=example"]
    maxDuration: 1h
    allowBuiltinPrivileged: true
`;
    const { catalog } = parseConfigText(text('ad'), 'stint.yaml');
    assert.equal(catalog.profiles.get('domain-admins')!.allowBuiltinPrivileged, true);
    assert.equal(catalog.profiles.get('plain')!.allowBuiltinPrivileged, undefined);
    assert.throws(
      () => parseConfigText(text('ldap'), 'stint.yaml'),
      (e: Error) =>
        /^stint\.yaml:16:\d+: profiles\[1\]\.allowBuiltinPrivileged: allowBuiltinPrivileged applies to Active Directory \(ad\) targets/m.test(e.message),
    );
  });
});
