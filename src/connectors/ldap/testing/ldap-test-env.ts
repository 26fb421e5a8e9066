// Test fixture: on the shared test slapd, a private set of data for one test
// file: an ephemeral OU of its own (so listManaged sees only this file's
// accounts), managed groups of both kinds, an unmanaged group, a vault entry
// only those groups may read, and an own-account person. Everything is
// seeded as rootdn and deleted in teardown; the connector runs as the
// least-privileged admin.

import { Client } from 'ldapts';
import { randomBytes } from 'node:crypto';
import { randomId } from '../../../core/ids.js';
import { dataSetLdif, testLdapServer, type LdapTestServerInfo } from '../../../testing/servers/ldap.js';
import type { Connector } from '../../contract.js';
import type { ContractHarness, ContractLogin, ContractSession } from '../../testing/contract-suite.js';
import { childDN, isDN } from '../dn.js';
import { createLdapConnector } from '../module.js';
import { sshaVerifier } from '../ldap-values.js';

export const testSecret = () => `T${randomBytes(18).toString('base64url')}`;

export interface LdapTestEnv {
  server: LdapTestServerInfo;
  suffix: string;
  ephemeralOU: string;
  groups: { readers: string; uniqueReaders: string; writers: string; unmanaged: string };
  vault: string;
  secret: string;
  own: { dn: string; secret: string };
  /** Client bound as rootdn (ignores ACLs). */
  root: Client;
  newConnector(overrides?: { url?: string; adminSecret?: string; settings?: Record<string, unknown> }): Connector;
  /** The DN an account string stands for (ephemeral uid or DN). */
  dnOf(account: string): string;
  /** Binds as `dn`; throws when refused. Closed in teardown. */
  bind(account: string, secret: string): Promise<Client>;
  /** Adds an unmarked person under the ephemeral OU (or at a DN) with a password. */
  createUnmanaged(name: string, secret?: string): Promise<string>;
  teardown(): Promise<void>;
}

function parseLdif(ldif: string): { dn: string; attrs: Record<string, string[]> }[] {
  return ldif
    .trim()
    .split(/\n\n+/)
    .map((block) => {
      const attrs: Record<string, string[]> = {};
      let dn = '';
      for (const line of block.split('\n')) {
        const i = line.indexOf(': ');
        const k = line.slice(0, i);
        const v = line.slice(i + 2);
        if (k === 'dn') dn = v;
        else (attrs[k] ??= []).push(v);
      }
      return { dn, attrs };
    });
}

export async function createLdapTestEnv(): Promise<LdapTestEnv> {
  const server = await testLdapServer();
  const suffix = randomId(8);
  const base = server.baseDN;
  const root = new Client({ url: server.url });
  await root.bind(server.rootDN, server.rootPassword);
  const ephemeralOU = `ou=env-${suffix},ou=stint,${base}`;
  const managed = `ou=managed,ou=groups,${base}`;
  const groups = {
    readers: `cn=readers-${suffix},${managed}`,
    uniqueReaders: `cn=unique-readers-${suffix},${managed}`,
    writers: `cn=writers-${suffix},${managed}`,
    unmanaged: `cn=admins-${suffix},ou=groups,${base}`,
  };
  const own = { dn: `uid=own-${suffix},ou=people,${base}`, secret: testSecret() };
  const created: string[] = [];
  const clients = new Set<Client>();
  const connectors: Connector[] = [];
  const add = async (dn: string, attrs: Record<string, string[] | string>) => {
    await root.add(dn, attrs);
    created.push(dn);
  };

  await add(ephemeralOU, { objectClass: 'organizationalUnit', ou: `env-${suffix}` });
  for (const e of parseLdif(dataSetLdif(suffix))) await add(e.dn, e.attrs);
  await add(groups.unmanaged, { objectClass: 'groupOfNames', cn: `admins-${suffix}`, member: `cn=nobody,${base}` });
  await add(own.dn, { objectClass: 'inetOrgPerson', uid: `own-${suffix}`, cn: 'Own Account', sn: suffix, userPassword: sshaVerifier(own.secret) });

  const dnOf = (account: string) => (isDN(account) ? account : childDN('uid', account, ephemeralOU));

  const env: LdapTestEnv = {
    server,
    suffix,
    ephemeralOU,
    groups,
    vault: `cn=${suffix},ou=vault,${base}`,
    secret: `cn=secret,ou=secrets,${base}`,
    own,
    root,
    newConnector(o = {}) {
      const c = createLdapConnector({
        target: `ldap-test-${suffix}`,
        settings: { url: o.url ?? server.url, baseDN: base, ephemeralOU, groupBaseDN: `ou=groups,${base}`, connectTimeoutMs: 3000, ...o.settings },
        adminUser: server.adminDN,
        adminSecret: o.adminSecret ?? server.adminPassword,
      });
      connectors.push(c);
      return c;
    },
    dnOf,
    async bind(account, secret) {
      const c = new Client({ url: server.url, connectTimeout: 3000 });
      clients.add(c);
      await c.bind(dnOf(account), secret);
      return c;
    },
    async createUnmanaged(name, secret = testSecret()) {
      const dn = dnOf(name);
      await add(dn, { objectClass: 'inetOrgPerson', uid: name, cn: name, sn: name, userPassword: sshaVerifier(secret) });
      return dn;
    },
    async teardown() {
      for (const c of clients) await c.unbind().catch(() => {});
      for (const c of connectors) await c.close().catch(() => {});
      // Whatever a failed test left in the env's OU, then the fixtures, children first.
      const left = await root.search(ephemeralOU, { scope: 'one', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] }));
      for (const e of left.searchEntries) await root.del(e.dn).catch(() => {});
      for (const dn of created.reverse()) await root.del(dn).catch(() => {});
      await root.unbind().catch(() => {});
    },
  };
  return env;
}

/** The allowed action reads the env's vault entry; the forbidden one reads the secret. */
function ldapLogin(env: LdapTestEnv, c: Client): ContractLogin {
  const read = async (dn: string) => {
    const { searchEntries } = await c.search(dn, { scope: 'base', attributes: ['cn'] });
    if (searchEntries.length !== 1) throw new Error(`cannot read ${dn}`);
  };
  return {
    tryAllowed: () => read(env.vault),
    tryForbidden: () => read(env.secret),
    close: () => c.unbind().catch(() => {}),
  };
}

/** Alive while the server still answers on this connection (Who am I?, RFC 4532); has access while it can read what the grant gives. */
function ldapSession(env: LdapTestEnv, c: Client): ContractSession {
  return {
    isAlive: () =>
      c.exop('1.3.6.1.4.1.4203.1.11.3').then(
        () => c.isConnected,
        () => false,
      ),
    hasAccess: () =>
      c.search(env.vault, { scope: 'base', attributes: ['cn'] }).then(
        (r) => r.searchEntries.length === 1,
        () => false,
      ),
    close: () => c.unbind().catch(() => {}),
  };
}

export function ldapHostileNames(): string[] {
  const s = randomId(6);
  return [
    `*)(uid=*))(|(uid=*${s}`,
    `,cn=admin${s}`,
    `#lead${s}`,
    ` lead and trail ${s} `,
    `a+uid=root${s}`,
    `x"; DROP ROLE admin; --${s}`,
    `q'uote"d;semi;<angle>\\back${s}`,
    `日é_${s}_${'u'.repeat(40)}`,
  ];
}

export function ldapHarness(env: LdapTestEnv): ContractHarness {
  let n = 0;
  return {
    connector: env.newConnector(),
    grants: { allowed: [env.groups.readers], nonexistent: [`cn=no-such-group-${env.suffix},ou=managed,ou=groups,${env.server.baseDN}`] },
    login: async (account, secret) => ldapLogin(env, await env.bind(account, secret)),
    ownAccount: env.own.dn,
    ownLogin: async () => ldapLogin(env, await env.bind(env.own.dn, env.own.secret)),
    openSession: async (account, secret) => ldapSession(env, await env.bind(account, secret)),
    openOwnSession: async () => ldapSession(env, await env.bind(env.own.dn, env.own.secret)),
    createUnmanaged: async (name) => {
      await env.createUnmanaged(name);
    },
    // pwdEndTime, enforced by slapo-ppolicy at bind.
    supportsNativeExpiry: true,
    // An LDAP bind lives as long as its connection; slapd cannot close another client's.
    terminatesSessions: false,
    // GeneralizedTime is written in whole seconds, rounded up.
    expiryPrecisionMs: 1000,
    accountName: () => `stint_${env.suffix}_${++n}`,
    hostileNames: ldapHostileNames,
    teardown: () => env.teardown(),
  };
}
