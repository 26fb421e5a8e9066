// What the AD connector gives and takes away, proven with the real clients a
// person uses against a real Samba AD DC: `kinit user@REALM`, an LDAPS simple
// bind with the userPrincipalName, and `smbclient` on a share only one group
// may read. Also: the DC's own expiry with Stint stopped, refused built-in
// groups, and hostile names that never reach another object.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomId } from '../../core/ids.js';
import type { Connector } from '../contract.js';
import { rejectsTarget } from '../testing/rejects-target.js';
import { ldapsBind, kinit, newCcache, smbListWithPassword, smbListWithTicket } from './testing/ad-clients.js';
import { createAdTestEnv, testSecret, type AdTestEnv } from './testing/ad-test-env.js';
import { adChildDN, adDN, samFor, toFileTime } from './ad-values.js';
import { replace, readEntry, values } from './ad-directory.js';

describe('ad connector with real clients (Samba AD DC)', () => {
  let env: AdTestEnv;
  let conn: Connector;
  let n = 0;
  // Broker-shaped names: longer than 20, so the sAMAccountName is derived and people use the UPN.
  const name = () => `stint_alice_${env.suffix}_${++n}`;
  const inAnHour = () => new Date(Date.now() + 3600_000);
  const upn = (account: string) => `${account}@${env.server.realm}`;

  before(async () => {
    env = await createAdTestEnv();
    conn = env.newConnector();
  });
  after(async () => {
    await env?.teardown();
  });

  async function kinitWorks(account: string, secret: string): Promise<boolean> {
    const cc = await newCcache(env.server);
    try {
      await kinit(env.server, cc, upn(account), secret);
      return true;
    } catch {
      return false;
    } finally {
      await cc.destroy();
    }
  }
  const bindWorks = (who: string, secret: string) =>
    ldapsBind(env.server, who, secret).then(
      async (c) => {
        await c.unbind();
        return true;
      },
      () => false,
    );
  const smbWorks = (sam: string, secret: string) =>
    smbListWithPassword(env.server, sam, secret).then(
      (out) => out.includes('vault.txt'),
      () => false,
    );

  it('kinit user@REALM and an LDAPS bind with the UPN work during the grant and fail after removal', async () => {
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: [env.groups.own], expiresAt: inAnHour() });
    assert.equal(conn.connectionInfo().userPrincipalName, `{account}@${env.server.realm}`);
    assert.equal(await kinitWorks(account, secret), true, 'kinit during the grant');
    assert.equal(await kinitWorks(account, `${secret}x`), false, 'a wrong password is refused');
    assert.equal(await bindWorks(upn(account), secret), true, 'LDAPS bind during the grant');
    assert.equal(await bindWorks(env.dnOf(account), secret), true, 'and with the DN');
    const entry = await readEntry(env.root, env.dnOf(account), ['sAMAccountName', 'userAccountControl', 'description', 'memberOf']);
    assert.equal(values(entry!, 'sAMAccountName')[0], samFor(account));
    assert.equal(values(entry!, 'userAccountControl')[0], '512');
    assert.deepEqual(values(entry!, 'memberOf'), [env.groups.own]);

    assert.equal((await conn.removeAccount({ account })).existed, true);
    assert.equal(await kinitWorks(account, secret), false, 'kinit after removal');
    assert.equal(await bindWorks(upn(account), secret), false, 'LDAPS bind after removal');
    assert.deepEqual(await conn.removeAccount({ account }), { existed: false, terminatedSessions: 0 });
  });

  it('the group-only SMB share: listable during the grant, refused without the group and after removal', async () => {
    const reader = name();
    const other = name();
    const secret = testSecret();
    await conn.createAccount({ account: reader, secret, grants: [env.server.shareGroup], expiresAt: inAnHour() });
    await conn.createAccount({ account: other, secret, grants: [env.groups.own], expiresAt: inAnHour() });
    assert.equal(await smbWorks(samFor(reader), secret), true, 'the group member lists the share');
    assert.equal(await smbWorks(samFor(other), secret), false, 'a user without the group is refused');
    // Two logons from before the removal: one has only its TGT, one already holds a service ticket for the DC's SMB.
    const tgtOnly = await newCcache(env.server);
    const withTicket = await newCcache(env.server);
    try {
      await kinit(env.server, tgtOnly, upn(reader), secret);
      await kinit(env.server, withTicket, upn(reader), secret);
      assert.match(await smbListWithTicket(env.server, withTicket), /vault\.txt/);
      await conn.removeAccount({ account: reader });
      assert.equal(await smbWorks(samFor(reader), secret), false, 'refused after removal');
      await assert.rejects(smbListWithTicket(env.server, tgtOnly), 'the KDC refuses a service ticket to a TGT of a removed user');
      // What Kerberos cannot recall (README.md, "What removal cuts"): an issued service ticket stays valid at its service.
      assert.match(await smbListWithTicket(env.server, withTicket), /vault\.txt/, 'documented limit: an issued service ticket still works');
    } finally {
      await tgtOnly.destroy();
      await withTicket.destroy();
      await conn.removeAccount({ account: other });
    }
  });

  it("accountExpires is the DC's own dead man's switch: with Stint stopped, kinit, LDAPS and SMB are refused", async () => {
    const stopped = env.newConnector();
    const account = name();
    const secret = testSecret();
    await stopped.createAccount({ account, secret, grants: [env.server.shareGroup], expiresAt: inAnHour() });
    assert.equal(await kinitWorks(account, secret), true);
    await stopped.close();
    // Stint is gone; the clock passes the expiry (moved by the fixture, as time would).
    await env.root.modify(env.dnOf(account), replace('accountExpires', [toFileTime(new Date(Date.now() - 1000))]));
    assert.equal(await kinitWorks(account, secret), false, 'kinit');
    assert.equal(await bindWorks(upn(account), secret), false, 'LDAPS bind');
    assert.equal(await smbWorks(samFor(account), secret), false, 'SMB');
    const e = await readEntry(env.root, env.dnOf(account), ['userAccountControl']);
    assert.equal(values(e!, 'userAccountControl')[0], '512', 'still enabled: the DC alone refused it');
    await conn.removeAccount({ account });
  });

  it('and with real time: an account whose expiry passes while Stint is stopped stops working', async () => {
    const stopped = env.newConnector();
    const account = name();
    const secret = testSecret();
    const expiresAt = new Date(Date.now() + 5000);
    await stopped.createAccount({ account, secret, grants: [], expiresAt });
    await stopped.close();
    while (Date.now() <= expiresAt.getTime() + 1000) await new Promise((r) => setTimeout(r, 250));
    assert.equal(await kinitWorks(account, secret), false);
    assert.equal(await bindWorks(env.dnOf(account), secret), false);
    await conn.removeAccount({ account });
  });

  it('own account: membership appears and disappears (describeAccount and a real logon)', async () => {
    assert.equal(await smbWorks(env.own.sam, env.own.secret), false, 'no standing access');
    await conn.grantToAccount({ account: env.own.sam, grants: ['stint-share-readers', env.groups.own] });
    assert.deepEqual((await conn.describeAccount({ account: env.own.sam })).grants.sort(), [env.server.shareGroup, env.groups.own].sort());
    assert.equal(await smbWorks(env.own.sam, env.own.secret), true);
    // The same user named by UPN and by DN is the same user.
    assert.equal((await conn.describeAccount({ account: `${env.own.sam}@${env.server.realm}` })).grants.length, 2);
    await conn.revokeFromAccount({ account: env.own.dn, grants: [env.server.shareGroup, `grp-${env.suffix}`], terminateSessions: false });
    assert.deepEqual((await conn.describeAccount({ account: env.own.sam })).grants, []);
    assert.equal(await smbWorks(env.own.sam, env.own.secret), false);
  });

  it('refuses the built-in privileged groups by SID unless the profile allows them', async () => {
    for (const g of ['Domain Admins', `CN=Administrators,CN=Builtin,${env.server.baseDN}`, 'Account Operators', 'Schema Admins', 'Enterprise Admins']) {
      const err = await rejectsTarget(conn.grantToAccount({ account: env.own.sam, grants: [g] }));
      assert.equal(err.retryable, false);
      // With the default groupBaseDN they are out of reach; with the domain as groupBaseDN the SID check refuses them.
      assert.match(err.message, /built-in privileged group|outside|does not exist below/, err.message);
    }
    const permissive = env.newConnector({ settings: { groupBaseDN: env.server.baseDN } });
    const strict = permissive;
    assert.match(
      (await rejectsTarget(strict.grantToAccount({ account: env.own.sam, grants: ['Domain Admins'] }))).message,
      /Domain Admins; set allowBuiltinPrivileged: true on the profile/,
    );
    assert.deepEqual((await strict.describeAccount({ account: env.own.sam })).grants, [], 'the refusal changed nothing');
    await permissive.grantToAccount({ account: env.own.sam, grants: ['Server Operators'], allowBuiltinPrivileged: true });
    await permissive.grantToAccount({ account: env.own.sam, grants: ['Domain Admins'], allowBuiltinPrivileged: true });
    const holders = (await permissive.listHolders!({ grants: ['Domain Admins'] })).holders;
    assert.ok(
      holders.some((h) => h.account === env.own.sam && h.grantedByStint === null && !h.managed),
      JSON.stringify(holders),
    );
    assert.ok(!holders.some((h) => h.account === 'Administrator'), 'the service account itself is never listed');
    await permissive.revokeFromAccount({ account: env.own.sam, grants: ['Domain Admins', 'Server Operators'], terminateSessions: false });
    assert.deepEqual((await permissive.describeAccount({ account: env.own.sam })).grants, []);
  });

  it('standing privileges: nested membership is reported with the groups it comes through', async () => {
    const outer = `CN=outer-${env.suffix},OU=Groups,${env.server.baseDN}`;
    await env.root.add(outer, { objectClass: ['top', 'group'], cn: `outer-${env.suffix}`, sAMAccountName: `outer-${env.suffix}`, member: env.groups.own });
    try {
      await conn.grantToAccount({ account: env.own.sam, grants: [env.groups.own] });
      const { holders } = await conn.listHolders!({ grants: [outer] });
      const mine = holders.filter((h) => h.account === env.own.sam);
      assert.deepEqual(mine, [
        {
          account: env.own.sam,
          grant: outer,
          managed: false,
          grantedByStint: false,
          via: [`grp-${env.suffix}`],
          // Its other names, so reconcile finds grants that name it so.
          aliases: [`${env.own.sam}@${env.server.realm}`, env.own.dn],
        },
      ]);
      await conn.revokeFromAccount({ account: env.own.sam, grants: [env.groups.own], terminateSessions: false });
      assert.deepEqual(
        (await conn.listHolders!({ grants: [outer] })).holders.filter((h) => h.account === env.own.sam),
        [],
      );
    } finally {
      await env.root.del(outer);
    }
  });

  it('hostile names in accounts and groups stay one RDN value and never reach another object', async () => {
    const s = randomId(5);
    // A group whose name looks like DN and filter syntax, next to the one it imitates.
    const hostileGroupCN = `grp-${env.suffix},CN=x\\#"+=;<>*)(${s}`;
    const hostileGroup = adChildDN('CN', hostileGroupCN, `OU=Groups,${env.server.baseDN}`);
    await env.root.add(hostileGroup, { objectClass: ['top', 'group'], cn: hostileGroupCN, sAMAccountName: `hg-${s}` });
    try {
      for (const account of [`,CN=own-${env.suffix},OU=People`, `#${s}\\"quo'te"`, `a+CN=root=${s}`, `${s}${'L'.repeat(64 - s.length)}`]) {
        const secret = testSecret();
        await conn.createAccount({ account, secret, grants: [hostileGroup], expiresAt: inAnHour() });
        const e = await readEntry(env.root, env.dnOf(account), ['cn', 'memberOf']);
        assert.equal(values(e!, 'cn')[0], account, 'stored literally');
        assert.deepEqual(values(e!, 'memberOf').map(adDN), [hostileGroup]);
        assert.deepEqual((await conn.describeAccount({ account })).grants, [hostileGroup]);
        assert.equal(await bindWorks(env.dnOf(account), secret), true);
        assert.equal((await conn.removeAccount({ account })).existed, true);
      }
      // The imitated group and the own user are untouched.
      assert.deepEqual((await conn.describeAccount({ account: env.own.sam })).grants, []);
      const own = await readEntry(env.root, env.own.dn, ['userAccountControl']);
      assert.equal(values(own!, 'userAccountControl')[0], '512');
      // Too long (cn allows 64) and NUL: refused before the DC is asked, nothing made.
      for (const bad of ['x'.repeat(65), `nul\0${s}`]) {
        const err = await rejectsTarget(conn.createAccount({ account: bad, secret: testSecret(), grants: [], expiresAt: inAnHour() }));
        assert.equal(err.retryable, false);
      }
      assert.deepEqual((await conn.listManaged()).accounts, []);
    } finally {
      await env.root.del(hostileGroup);
    }
  });
});
