// Standing-privilege discovery on a real OpenLDAP: members of a profile's
// groups, directly or through a nested group, are listed with how they hold
// it, and are gone from the list once taken out of the group.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Attribute, Change } from 'ldapts';
import type { Connector } from '../contract.js';
import { createLdapTestEnv, testSecret, type LdapTestEnv } from './testing/ldap-test-env.js';

describe('ldap listHolders', () => {
  let env: LdapTestEnv;
  let c: Connector;
  let nest: string;
  before(async () => {
    env = await createLdapTestEnv();
    c = env.newConnector();
    nest = `cn=nest-${env.suffix},ou=groups,${env.server.baseDN}`;
  });
  after(async () => {
    await env.root.del(nest).catch(() => {});
    await env.teardown();
  });

  const modify = (group: string, operation: 'add' | 'delete', member: string) =>
    env.root.modify(group, new Change({ operation, modification: new Attribute({ type: 'member', values: [member] }) }));

  it('lists direct members, members of nested groups and ephemeral accounts; forgets a member taken out', async () => {
    const bob = await env.createUnmanaged(`bob-${env.suffix}`);
    await env.root.add(nest, { objectClass: 'groupOfNames', cn: `nest-${env.suffix}`, member: [env.own.dn] });
    await modify(env.groups.readers, 'add', nest);
    await modify(env.groups.writers, 'add', bob);
    const eph = `stint-eph-${env.suffix}`;
    await c.createAccount({ account: eph, secret: testSecret(), grants: [env.groups.readers], expiresAt: new Date(Date.now() + 3_600_000) });

    const grants = [env.groups.readers, env.groups.writers];
    const list = async () =>
      (await c.listHolders!({ grants })).holders
        .map((h) => `${h.account} | ${h.grant} | ${(h.via ?? []).join('>')} | ${h.managed} | ${h.grantedByStint}`)
        .sort();
    assert.deepEqual(
      await list(),
      [
        `${env.own.dn} | ${env.groups.readers} | ${nest} | false | false`,
        `${bob} | ${env.groups.writers} |  | false | null`,
        `${eph} | ${env.groups.readers} |  | true | null`,
      ].sort(),
    );

    await modify(env.groups.readers, 'delete', nest);
    await modify(env.groups.writers, 'delete', bob);
    assert.deepEqual(await list(), [`${eph} | ${env.groups.readers} |  | true | null`]);
  });
});
