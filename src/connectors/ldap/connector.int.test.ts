// The LDAP connector against a real OpenLDAP slapd, running as the
// least-privileged admin: the shared contract suite, then what is specific to
// LDAP (binds, both group types, injection, outages, open connections).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'ldapts';
import { freePort } from '../../embedded/free-port.js';
import { startLdapServer } from '../../testing/servers/ldap.js';
import type { Connector } from '../contract.js';
import { connectorContractSuite } from '../testing/contract-suite.js';
import { equals, or } from './filter.js';
import { createLdapConnector } from './module.js';
import { createLdapTestEnv, ldapHarness, testSecret, type LdapTestEnv } from './testing/ldap-test-env.js';
import { checkSsha } from './ldap-values.js';
import { rejectsTarget } from '../testing/rejects-target.js';

const inAnHour = () => new Date(Date.now() + 3600_000);

connectorContractSuite({
  name: 'ldap',
  setup: async () => ldapHarness(await createLdapTestEnv()),
});

describe('ldap connector specifics', () => {
  let env: LdapTestEnv;
  let conn: Connector;
  let n = 0;
  const name = () => `stint_ldap_${env.suffix}_${++n}`;

  before(async () => {
    env = await createLdapTestEnv();
    conn = env.newConnector();
  });
  after(async () => {
    await env.teardown();
  });

  const canRead = async (c: Client, dn: string) =>
    c.search(dn, { scope: 'base', attributes: ['cn'] }).then(
      (r) => r.searchEntries.length === 1,
      () => false,
    );

  it('bind works with the issued password, fails after removal; an open connection keeps its bind but loses the group access', async () => {
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: [env.groups.readers], expiresAt: inAnHour() });
    const open = await env.bind(account, secret);
    assert.equal(await canRead(open, env.vault), true);
    assert.deepEqual(await conn.removeAccount({ account }), { existed: true, terminatedSessions: 0 });
    await assert.rejects(env.bind(account, secret), /Code: 0x31/, 'a new bind fails: invalidCredentials');
    // LDAP cannot close another client's connection: it stays bound as the
    // deleted DN, but every operation is authorized afresh, and the group
    // membership that gave access is gone.
    const who = await open.exop('1.3.6.1.4.1.4203.1.11.3');
    assert.match(String(who.value), new RegExp(`uid=${account},`));
    assert.equal(await canRead(open, env.vault), false, 'the open connection lost the profile access');
  });

  it('own account: membership in a groupOfNames and a groupOfUniqueNames is added and removed, and the person sees it', async () => {
    const grants = [env.groups.readers, env.groups.uniqueReaders];
    const me = await env.bind(env.own.dn, env.own.secret);
    const mine = async () =>
      (
        await me.search(`ou=groups,${env.server.baseDN}`, {
          filter: or(equals('member', env.own.dn), equals('uniqueMember', env.own.dn)),
          attributes: ['objectClass'],
        })
      ).searchEntries
        .map((e) => e.dn)
        .sort();
    assert.deepEqual(await mine(), []);
    await conn.grantToAccount({ account: env.own.dn, grants });
    assert.deepEqual(await mine(), [...grants].sort(), 'a search as the own user shows both memberships');
    const values = await env.root.search(env.groups.uniqueReaders, { scope: 'base', attributes: ['uniqueMember', 'member'] });
    assert.ok(([] as string[]).concat(values.searchEntries[0]!.uniqueMember as string[]).includes(env.own.dn), 'uniqueMember used for groupOfUniqueNames');
    assert.deepEqual(values.searchEntries[0]!.member ?? [], []);
    assert.equal(await canRead(me, env.vault), true);
    assert.deepEqual((await conn.describeAccount({ account: env.own.dn })).grants.sort(), [...grants].sort());

    await conn.revokeFromAccount({ account: env.own.dn, grants: [env.groups.readers], terminateSessions: false });
    assert.deepEqual(await mine(), [env.groups.uniqueReaders]);
    assert.equal(await canRead(me, env.vault), true, 'still readable through the groupOfUniqueNames group');
    await conn.revokeFromAccount({ account: env.own.dn, grants, terminateSessions: true });
    assert.deepEqual(await mine(), []);
    assert.equal(await canRead(me, env.vault), false);
  });

  it('filter and DN injection attempts are harmless', async () => {
    const bystander = await env.createUnmanaged(name());
    const hostile = '*)(uid=*))(|(uid=*';
    const secret = testSecret();
    await conn.createAccount({ account: hostile, secret, grants: [env.groups.readers], expiresAt: inAnHour() });
    const listed = (await conn.listManaged()).accounts.map((a) => a.account);
    assert.deepEqual(listed, [hostile], 'the filter-shaped name matched only itself');
    const ro = await env.root.search(env.ephemeralOU, { scope: 'one', filter: equals('uid', hostile), attributes: ['uid'] });
    assert.equal(ro.searchEntries.length, 1);
    assert.equal(ro.searchEntries[0]!.uid, hostile, 'stored literally');
    await (await env.bind(hostile, secret)).unbind();

    // Wildcards and DN syntax in names are values, never patterns or structure.
    for (const probe of ['*', `${hostile.slice(0, 5)}*`, 'stint*']) {
      assert.equal((await conn.describeAccount({ account: probe })).exists, false, probe);
      assert.deepEqual(await conn.removeAccount({ account: probe }), { existed: false, terminatedSessions: 0 });
    }
    // Not a DN (no type before the first comma): one literal uid under the ephemeral OU.
    const literal = `x,${env.own.dn}`;
    await conn.createAccount({ account: literal, secret, grants: [], expiresAt: inAnHour() });
    assert.equal((await env.root.search(env.dnOf(literal), { scope: 'base', attributes: ['uid'] })).searchEntries[0]!.uid, literal);
    assert.equal((await conn.removeAccount({ account: literal })).existed, true);
    // A DN elsewhere is never created, nor removed.
    const elsewhere = `uid=x,ou=people,${env.server.baseDN}`;
    assert.equal((await rejectsTarget(conn.createAccount({ account: elsewhere, secret, grants: [], expiresAt: inAnHour() }))).retryable, false);
    assert.equal((await conn.describeAccount({ account: elsewhere })).exists, false);
    assert.equal((await rejectsTarget(conn.removeAccount({ account: env.own.dn }))).retryable, false);
    for (const bad of [`${env.groups.readers})(member=*`, `*`, `cn=x,dc=elsewhere`]) {
      assert.equal((await rejectsTarget(conn.grantToAccount({ account: env.own.dn, grants: [bad] }))).retryable, false, bad);
    }
    assert.equal((await conn.describeAccount({ account: bystander })).exists, true);
    assert.equal((await conn.describeAccount({ account: env.own.dn })).exists, true);
    assert.equal((await conn.removeAccount({ account: hostile })).existed, true);
    assert.deepEqual((await conn.listManaged()).accounts, []);
  });

  it('never touches a marked entry outside the ephemeral OU, nor a group the admin may not change', async () => {
    const outside = `uid=marked-${env.suffix},ou=people,${env.server.baseDN}`;
    await env.root.add(outside, { objectClass: 'inetOrgPerson', uid: `marked-${env.suffix}`, cn: 'x', sn: 'x', description: 'stint-managed' });
    try {
      assert.equal((await rejectsTarget(conn.removeAccount({ account: outside }))).retryable, false);
      assert.equal((await rejectsTarget(conn.extendAccount({ account: outside, expiresAt: inAnHour() }))).retryable, false);
      assert.ok(!(await conn.listManaged()).accounts.some((a) => a.account.includes('marked-')));
      assert.equal((await conn.describeAccount({ account: outside })).exists, true);
      // Least privilege: cn=admins-* is not in ou=managed, so the ACLs refuse.
      const err = await rejectsTarget(conn.grantToAccount({ account: env.own.dn, grants: [env.groups.unmanaged] }));
      assert.equal(err.retryable, false);
      assert.match(err.message, /insufficientAccessRights \(LDAP result 50\).*README/);
      assert.deepEqual((await conn.describeAccount({ account: env.own.dn })).grants, []);
    } finally {
      await env.root.del(outside);
    }
  });

  it('stores an {SSHA} verifier, never the plaintext, and pwdEndTime; createAccount again converges', async () => {
    const account = name();
    const first = `pässwörd-✓-'\\-${testSecret()}`;
    await conn.createAccount({ account, secret: first, grants: [env.groups.readers, env.groups.writers], expiresAt: inAnHour() });
    const e1 = (await env.root.search(env.dnOf(account), { scope: 'base', attributes: ['userPassword', 'pwdEndTime'] })).searchEntries[0]!;
    const stored = ([] as unknown[]).concat(e1.userPassword).map(String);
    assert.equal(stored.length, 1);
    assert.ok(checkSsha(first, stored[0]!) && !stored[0]!.includes(first), stored[0]);
    assert.match(String(e1.pwdEndTime), /^\d{14}Z$/);
    await (await env.bind(account, first)).unbind();

    const second = testSecret();
    const later = new Date(Date.now() + 7200_000);
    await conn.createAccount({ account, secret: second, grants: [env.groups.readers], expiresAt: later });
    await assert.rejects(env.bind(account, first), 'the old secret no longer works');
    await (await env.bind(account, second)).unbind();
    const m = (await conn.listManaged()).accounts.find((a) => a.account === account);
    assert.deepEqual(m?.grants, [env.groups.readers], 'the dropped group is gone');
    assert.ok(Math.abs(m!.expiresAt!.getTime() - later.getTime()) < 1000);
    await conn.removeAccount({ account });
  });

  it('with expiry: none, no pwdEndTime is written and none is reported', async () => {
    const plain = env.newConnector({ settings: { expiry: 'none' } });
    const account = name();
    await plain.createAccount({ account, secret: testSecret(), grants: [], expiresAt: new Date(Date.now() - 60_000) });
    const e = await env.root.search(env.dnOf(account), { scope: 'base', attributes: ['pwdEndTime'] });
    assert.deepEqual(e.searchEntries[0]!.pwdEndTime ?? [], []);
    assert.equal((await plain.listManaged()).accounts.find((a) => a.account === account)?.expiresAt, null);
    assert.equal((await plain.removeAccount({ account })).existed, true);
  });

  it('a stopped slapd is a retryable error, and the connector recovers when it is back', async () => {
    const s = await startLdapServer();
    try {
      // A private server, so stopping it disturbs no other test.
      const own = createLdapConnector({
        target: 'outage',
        settings: { url: s.info.url, baseDN: s.info.baseDN, ephemeralOU: `ou=stint,${s.info.baseDN}`, connectTimeoutMs: 2000 },
        adminUser: s.info.adminDN,
        adminSecret: s.info.adminPassword,
      });
      await own.checkHealth();
      await s.stopProcess();
      const secret = `CANARY-${testSecret()}`;
      const err = await rejectsTarget(own.createAccount({ account: 'acct_x', secret, grants: [], expiresAt: inAnHour() }));
      assert.equal(err.retryable, true, err.message);
      assert.match(err.message, /createAccount of account "acct_x"/);
      assert.ok(!err.message.includes('CANARY') && !err.message.includes(s.info.adminPassword));
      const ops = [
        () => own.checkHealth(),
        () => own.removeAccount({ account: 'acct_x' }),
        () => own.listManaged(),
        () => own.grantToAccount({ account: s.info.ownDN, grants: [] }),
        () => own.revokeFromAccount({ account: s.info.ownDN, grants: [], terminateSessions: false }),
      ];
      for (const op of ops) assert.equal((await rejectsTarget(op())).retryable, true);
      await s.startProcess();
      await own.checkHealth();
      await own.close();
    } finally {
      await s.stop();
    }
  });

  it('reports an unreachable port as retryable and a refused admin credential as final, without secrets', async () => {
    const dead = env.newConnector({ url: `ldap://127.0.0.1:${await freePort()}` });
    assert.equal((await rejectsTarget(dead.checkHealth())).retryable, true);
    const wrong = `WRONG-${testSecret()}`;
    const err = await rejectsTarget(env.newConnector({ adminSecret: wrong }).checkHealth());
    assert.equal(err.retryable, false);
    assert.match(err.message, /invalidCredentials \(LDAP result 49\)/);
    assert.ok(!err.message.includes(wrong));
  });

  it('measures create and remove latency', async (t) => {
    const runs = 20;
    const create: number[] = [];
    const remove: number[] = [];
    for (let i = 0; i < runs; i++) {
      const account = name();
      let s = performance.now();
      await conn.createAccount({ account, secret: testSecret(), grants: [env.groups.readers], expiresAt: inAnHour() });
      create.push(performance.now() - s);
      s = performance.now();
      await conn.removeAccount({ account });
      remove.push(performance.now() - s);
    }
    const stat = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, p95 ${s[Math.floor(s.length * 0.95)]!.toFixed(1)} ms`;
    };
    console.log(`ldap createAccount (${runs} runs): ${stat(create)}`);
    console.log(`ldap removeAccount (${runs} runs): ${stat(remove)}`);
    t.diagnostic(`createAccount ${stat(create)}; removeAccount ${stat(remove)}`);
  });
});
