// Test fixture: on the shared Samba AD DC, a private set of objects for one
// test file: an ephemeral OU of its own (so listManaged sees only this file's
// accounts), a group of its own, and an own-account user. The share `vault`
// is readable only by the DC-wide group stint-share-readers; the contract's
// allowed grant is that group. Seeded and deleted as Administrator.

import { Client } from 'ldapts';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { randomId } from '../../../core/ids.js';
import { testAdServer, type AdTestServerInfo } from '../../../testing/servers/samba.js';
import type { Connector } from '../../contract.js';
import type { ContractHarness, ContractLogin, ContractSession } from '../../testing/contract-suite.js';
import { createAdConnector } from '../module.js';
import { adChildDN, samFor, unicodePwd } from '../ad-values.js';
import { hasTicket, kinit, ldapsBind, newCcache, smbListWithPassword, smbListWithTicket } from './ad-clients.js';

/** Meets the default complexity rule (upper, lower, digit, symbol). */
export const testSecret = () => `Tt1-${randomBytes(18).toString('base64url')}`;

export interface AdTestEnv {
  server: AdTestServerInfo;
  suffix: string;
  ephemeralOU: string;
  groups: { share: string; own: string };
  own: { sam: string; dn: string; secret: string };
  root: Client;
  newConnector(overrides?: { urls?: string[]; adminSecret?: string; settings?: Record<string, unknown> }): Connector;
  dnOf(account: string): string;
  /** The sAMAccountName people log on with over NTLM: an own user's, or the ephemeral one's. */
  samOf(account: string): string;
  createUnmanaged(name: string, secret?: string): Promise<string>;
  teardown(): Promise<void>;
}

export async function createAdTestEnv(): Promise<AdTestEnv> {
  const server = await testAdServer();
  const suffix = randomId(8).toLowerCase();
  const base = server.baseDN;
  const root = new Client({ url: server.url, tlsOptions: { ca: await readFile(server.caFile), servername: server.serverName } });
  await root.bind(server.adminUser, server.adminPassword);
  const ephemeralOU = `OU=env-${suffix},OU=Stint,${base}`;
  const groups = { share: server.shareGroup, own: `CN=grp-${suffix},OU=Groups,${base}` };
  const own = { sam: `own-${suffix}`, dn: `CN=own-${suffix},OU=People,${base}`, secret: testSecret() };
  const created: string[] = [];
  const connectors: Connector[] = [];
  const add = async (dn: string, attrs: Record<string, string[] | string | Buffer>) => {
    await root.add(dn, attrs as Record<string, string>);
    created.push(dn);
  };
  const addUser = (dn: string, cn: string, sam: string, secret: string) =>
    add(dn, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      cn,
      sAMAccountName: sam,
      userPrincipalName: `${sam}@${server.realm}`,
      unicodePwd: unicodePwd(secret),
      userAccountControl: '512',
    });
  await add(ephemeralOU, { objectClass: ['top', 'organizationalUnit'], ou: `env-${suffix}` });
  await add(groups.own, { objectClass: ['top', 'group'], cn: `grp-${suffix}`, sAMAccountName: `grp-${suffix}`, groupType: String(0x80000002 | 0) });
  await addUser(own.dn, own.sam, own.sam, own.secret);

  const dnOf = (account: string) => (account === own.sam ? own.dn : adChildDN('CN', account, ephemeralOU));
  return {
    server,
    suffix,
    ephemeralOU,
    groups,
    own,
    root,
    newConnector(o = {}) {
      const c = createAdConnector({
        target: `ad-test-${suffix}`,
        settings: {
          urls: o.urls ?? [server.url],
          caFile: server.caFile,
          tlsServerName: server.serverName,
          baseDN: base,
          ephemeralOU,
          groupBaseDN: `OU=Groups,${base}`,
          connectTimeoutMs: 30_000,
          ...o.settings,
        },
        adminUser: server.adminUser,
        adminSecret: o.adminSecret ?? server.adminPassword,
      });
      connectors.push(c);
      return c;
    },
    dnOf,
    samOf: (account) => (account === own.sam ? own.sam : samFor(account)),
    async createUnmanaged(name, secret = testSecret()) {
      const dn = adChildDN('CN', name, ephemeralOU);
      await addUser(dn, name, samFor(name), secret);
      return dn;
    },
    async teardown() {
      for (const c of connectors) await c.close().catch(() => {});
      const left = await root.search(ephemeralOU, { scope: 'one', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] }));
      for (const e of left.searchEntries) await root.del(e.dn).catch(() => {});
      for (const dn of created.reverse()) await root.del(dn).catch(() => {});
      await root.unbind().catch(() => {});
    },
  };
}

/** Allowed: list the share only stint-share-readers may read. Forbidden: create an object under the domain root. */
function adLogin(env: AdTestEnv, account: string, secret: string, c: Client): ContractLogin {
  return {
    tryAllowed: async () => {
      await smbListWithPassword(env.server, env.samOf(account), secret);
    },
    tryForbidden: () => c.add(`OU=forbidden-${randomId(6)},${env.server.baseDN}`, { objectClass: ['top', 'organizationalUnit'] }),
    close: () => c.unbind().catch(() => {}),
  };
}

/**
 * A logon session: a Kerberos TGT in a private cache. Alive while the cache
 * holds an unexpired TGT; has access while that TGT still gets a service
 * ticket the share accepts (a new SMB session set up with it).
 */
async function adSession(env: AdTestEnv, account: string, secret: string): Promise<ContractSession> {
  const cc = await newCcache(env.server);
  await kinit(env.server, cc, `${env.samOf(account)}@${env.server.realm}`, secret);
  return {
    isAlive: () => hasTicket(cc),
    hasAccess: () =>
      smbListWithTicket(env.server, cc).then(
        () => true,
        () => false,
      ),
    close: () => cc.destroy(),
  };
}

export function adHostileNames(): string[] {
  const s = randomId(6);
  return [
    `x"; DROP ROLE admin; --${s}`,
    `q'uote"d;semi;<angle>${s}`,
    `,CN=admin${s}`,
    `#lead${s}`,
    `a+cn=root${s}`,
    `back\\slash\\,${s}`,
    `*)(cn=*))(|(cn=*${s}`,
    `日é_${s}_${'u'.repeat(64 - 4 - s.length)}`,
  ];
}

export function adHarness(env: AdTestEnv): ContractHarness {
  let n = 0;
  return {
    connector: env.newConnector(),
    grants: { allowed: [env.groups.share], nonexistent: [`CN=no-such-group-${env.suffix},OU=Groups,${env.server.baseDN}`] },
    // An LDAPS simple bind with the user's DN: refused for a wrong password, a disabled, expired or deleted user.
    login: async (account, secret) => adLogin(env, account, secret, await ldapsBind(env.server, env.dnOf(account), secret)),
    ownAccount: env.own.sam,
    ownLogin: async () => adLogin(env, env.own.sam, env.own.secret, await ldapsBind(env.server, env.own.dn, env.own.secret)),
    openSession: (account, secret) => adSession(env, account, secret),
    openOwnSession: () => adSession(env, env.own.sam, env.own.secret),
    createUnmanaged: async (name) => {
      await env.createUnmanaged(name);
    },
    supportsNativeExpiry: true,
    terminatesSessions: false,
    ownSessionsKeepGrantsUntilLogon: true,
    expiryPrecisionMs: 1000,
    // Longer than 20 characters, as the broker's names are: the sAMAccountName is derived.
    accountName: () => `stint_contract_${env.suffix}_${++n}`,
    hostileNames: adHostileNames,
    teardown: () => env.teardown(),
  };
}
