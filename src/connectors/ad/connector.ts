// Active Directory connector: ephemeral domain users in one OU, and JIT
// membership of the person's own user in the profile's groups. A profile's
// grants are groups, by DN or sAMAccountName. README.md beside this file
// documents the service account's rights, TLS, what removal cuts and what a
// Windows DC does differently from Samba.
//
// Safety rules, enforced here rather than trusted to callers:
// - every DN is built from parsed RDNs with escaped values and every filter
//   value is escaped (../ldap/dn.ts, ../ldap/filter.ts);
// - only users directly under the ephemeral OU that carry the marker are ever
//   changed, disabled or deleted; own users only ever gain or lose the
//   membership a grant names;
// - the built-in privileged groups (by SID) are refused unless the profile
//   allows them (the request says so); passwords travel only over TLS. The kit's operation wrapper
//   checks each request (ad-rules.ts) and classifies and scrubs errors (errors.ts).

import type { Client, Entry } from 'ldapts';
import { readFileSync } from 'node:fs';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import { invalid } from '../../core/errors.js';
import {
  defaultPoolSize,
  type AccountInfo,
  type CreateAccountRequest,
  type Holder,
  type ListHoldersRequest,
  type ListHoldersResponse,
  type ListManagedResponse,
  type RemoveAccountResponse,
  type RevokeFromAccountResponse,
} from '../contract.js';
import { dnKey, formatDN, isChildOf, isDN, isWithin, parseDN } from '../ldap/dn.js';
import { and, equals } from '../ldap/filter.js';
import type { KindConnector, Operation } from '../kit/operation.js';
import type { KindInput } from '../module.js';
import { addMember, directMembers, findPrincipal, readEntry, removeMember, replace, sidOf, values } from './ad-directory.js';
import { checkGrant, checkRequestAccount } from './ad-rules.js';
import { UAC, adChildDN, adDN, builtinPrivilegedGroup, fromFileTime, samFor, toFileTime, unicodePwd } from './ad-values.js';
import { isResultCode, resultCodes, toTargetError } from './errors.js';
import { createDcPool } from './ad-pool.js';
import { realmOf, type AdSettings } from './settings.js';

interface Group {
  /** DN as the DC returns it. */
  dn: string;
  /** The string the profile names it by (DN or sAMAccountName). */
  asked: string;
  sid: string | null;
}

export function openAd(input: KindInput<AdSettings>): KindConnector {
  const { target, settings } = input;
  let ca: Buffer | undefined;
  if (settings.caFile) {
    try {
      ca = readFileSync(settings.caFile);
    } catch (e) {
      throw invalid(
        `ad target ${JSON.stringify(target)}: cannot read caFile ${JSON.stringify(settings.caFile)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
  }
  const realm = settings.realm ?? realmOf(settings.baseDN)!;
  const ephemeralOU = adDN(settings.ephemeralOU);
  const ephemeralRdns = parseDN(ephemeralOU);
  const groupBase = settings.groupBaseDN ?? settings.baseDN;
  const groupBaseRdns = parseDN(groupBase);
  const locks = new KeyedMutex();
  const pool = createDcPool({
    urls: settings.urls,
    ...(ca ? { ca } : {}),
    ...(settings.tlsServerName ? { serverName: settings.tlsServerName } : {}),
    connectTimeoutMs: settings.connectTimeoutMs ?? 10_000,
    operationTimeoutMs: settings.operationTimeoutMs ?? 30_000,
    bindName: input.adminUser,
    password: input.adminSecret,
    size: settings.poolSize ?? defaultPoolSize(input.concurrency),
  });
  let domainSid: string | null = null;
  let adminKey: string | null = null;

  async function getDomainSid(c: Client, op: Operation): Promise<string> {
    if (domainSid) return domainSid;
    const e = await readEntry(c, settings.baseDN, ['objectSid']);
    const sid = e && sidOf(e);
    if (!sid) throw op.fail(`baseDN ${JSON.stringify(settings.baseDN)} is not a domain (no objectSid) or not readable`);
    domainSid = sid;
    return sid;
  }

  /** The DN an ephemeral account name stands for. */
  const ephemeralDN = (name: string) => adChildDN('CN', name, ephemeralOU);
  const isEphemeralDN = (dn: string) => {
    const rdns = parseDN(dn);
    return isChildOf(rdns, ephemeralRdns) && rdns[0]!.length === 1 && rdns[0]![0]!.type.toLowerCase() === 'cn';
  };
  const isMarked = (e: Entry) => values(e, 'description').some((d) => d.toLowerCase() === settings.marker.toLowerCase());

  /**
   * The user an account string names: a DN as it is; else the ephemeral
   * account of that name under the ephemeral OU; else (own accounts) the one
   * user below baseDN with that sAMAccountName (or userPrincipalName, with @).
   */
  async function locate(c: Client, op: Operation, account: string): Promise<{ dn: string; entry: Entry } | null> {
    const attrs = ['objectClass', 'description', 'memberOf', 'userAccountControl'];
    if (isDN(account)) {
      const entry = await readEntry(c, adDN(account), attrs);
      return entry ? { dn: adDN(entry.dn), entry } : null;
    }
    const eph = await readEntry(c, ephemeralDN(account), attrs);
    if (eph) return { dn: adDN(eph.dn), entry: eph };
    let found = await findPrincipal(c, settings.baseDN, account, 'user');
    const at = account.lastIndexOf('@');
    // An implicit UPN: sAMAccountName@realm for a user with no userPrincipalName stored.
    if (found.length === 0 && at > 0 && account.slice(at + 1).toUpperCase() === realm)
      found = await findPrincipal(c, settings.baseDN, account.slice(0, at), 'user');
    if (found.length > 1) throw op.fail('more than one user has this name; name the account by its DN');
    return found[0] ? { dn: adDN(found[0].dn), entry: found[0] } : null;
  }

  function requireManaged(op: Operation, dn: string, entry: Entry): void {
    if (!isEphemeralDN(dn))
      throw op.fail(`the user is not under the ephemeral OU ${JSON.stringify(ephemeralOU)}, so Stint does not manage it; it was left unchanged`);
    if (!isMarked(entry))
      throw op.fail(`the user exists but is not managed by Stint (no description ${JSON.stringify(settings.marker)}); it was left unchanged`);
  }

  /**
   * One grant's group, or why it cannot be granted: missing, not a group, two
   * groups of that name, outside groupBaseDN, or built-in privileged without
   * `allowBuiltin` (the profile's allowBuiltinPrivileged). `tolerant` (revoke,
   * listing): a group that is not there is null, and a built-in one is fine.
   */
  async function resolveGroup(c: Client, op: Operation, g: string, allowBuiltin: boolean, tolerant: boolean): Promise<Group | string | null> {
    let entry: Entry | null;
    if (isDN(g)) {
      if (!isWithin(parseDN(g), groupBaseRdns)) return `grant ${JSON.stringify(g)} is outside ${JSON.stringify(groupBase)}`;
      entry = await readEntry(c, adDN(g), ['objectClass', 'objectSid']);
    } else {
      const found = await findPrincipal(c, groupBase, g, 'group');
      if (found.length > 1) return `more than one group is named ${JSON.stringify(g)}; name it by its DN`;
      entry = found[0] ?? null;
    }
    const isGroup = entry !== null && values(entry, 'objectClass').some((v) => v.toLowerCase() === 'group');
    if (!isGroup) {
      if (tolerant) return null;
      return entry
        ? `${JSON.stringify(g)} is not a group`
        : `group ${JSON.stringify(g)} does not exist below ${JSON.stringify(groupBase)} (or the service account may not read it)`;
    }
    const sid = sidOf(entry!);
    if (!tolerant && !allowBuiltin && sid) {
      const builtin = builtinPrivilegedGroup(sid, await getDomainSid(c, op));
      if (builtin) return `${JSON.stringify(g)} is the built-in privileged group ${builtin}; set allowBuiltinPrivileged: true on the profile to grant it`;
    }
    return { dn: adDN(entry!.dn), asked: g, sid };
  }

  /** Finds each group, refusing (before anything changes) the first that cannot be granted (resolveGroup). */
  async function resolveGroups(c: Client, op: Operation, grants: string[], allowBuiltin: boolean, tolerant = false): Promise<Group[]> {
    const out = new Map<string, Group>();
    for (const g of grants) {
      const r = await resolveGroup(c, op, g, allowBuiltin, tolerant);
      if (typeof r === 'string') throw op.fail(r);
      if (r) out.set(dnKey(parseDN(r.dn)), r);
    }
    return [...out.values()];
  }

  /** The groups (below groupBaseDN) an entry's memberOf lists, as DNs in one escaping (the DC may hex-escape). */
  const groupsOf = (e: Entry) =>
    values(e, 'memberOf')
      .filter((g) => isDN(g) && isWithin(parseDN(g), groupBaseRdns))
      .map(adDN);

  /** Lock per account (case-insensitive, as AD compares names). */
  const lockKey = (account: string) => (isDN(account) ? dnKey(parseDN(account)) : `name:${account.toLowerCase()}`);

  /** The service account's own DN, so it is never listed as a holder. */
  async function adminDN(c: Client): Promise<string | null> {
    if (adminKey !== null) return adminKey;
    const u = input.adminUser;
    const name = u.includes('\\') ? u.slice(u.indexOf('\\') + 1) : u;
    let found: { dn: string }[] = isDN(u) ? [{ dn: formatDN(parseDN(u)) }] : await findPrincipal(c, settings.baseDN, name, 'user');
    // An implicit UPN (sAMAccountName@realm, no userPrincipalName stored), as Administrator@REALM usually is.
    const at = name.lastIndexOf('@');
    if (found.length === 0 && at > 0 && name.slice(at + 1).toUpperCase() === realm) found = await findPrincipal(c, settings.baseDN, name.slice(0, at), 'user');
    adminKey = found.length === 1 ? dnKey(parseDN(found[0]!.dn)) : '';
    return adminKey;
  }

  return {
    classify: toTargetError,
    checkAccount: checkRequestAccount,
    checkGrant,

    async createAccount(req: CreateAccountRequest, op: Operation): Promise<void> {
      const accountExpires = toFileTime(req.expiresAt);
      const dn = ephemeralDN(req.account);
      await locks.run(lockKey(req.account), () =>
        pool.use(async (c) => {
          // Groups first: a missing or refused one fails the request before anything exists.
          const groups = await resolveGroups(c, op, req.grants, req.allowBuiltinPrivileged === true);
          const existing = await readEntry(c, dn, ['description', 'memberOf']);
          let created = false;
          if (!existing) {
            try {
              // One add: the DC sets the password and enables the user atomically.
              await c.add(dn, {
                objectClass: ['top', 'person', 'organizationalPerson', 'user'],
                cn: req.account,
                sAMAccountName: samFor(req.account),
                userPrincipalName: `${req.account}@${realm}`,
                description: settings.marker,
                unicodePwd: unicodePwd(req.secret) as unknown as string,
                userAccountControl: String(UAC.NORMAL_ACCOUNT),
                accountExpires,
              });
              created = true;
            } catch (err) {
              if (!isResultCode(err, resultCodes.entryAlreadyExists)) throw err;
              // Another broker made it between the read and the add, or the name is taken elsewhere.
              if (!(await readEntry(c, dn, ['1.1']))) {
                throw op.fail(`the sAMAccountName ${JSON.stringify(samFor(req.account))} or userPrincipalName is already used by another object in the domain`);
              }
            }
          }
          if (!created) {
            const now = existing ?? (await readEntry(c, dn, ['description', 'memberOf']));
            if (!now) throw op.fail('the user vanished while it was being created; retry');
            requireManaged(op, now.dn, now);
            // Idempotent retry: bring the user to exactly the requested state.
            await c.modify(dn, [
              replace('unicodePwd', [unicodePwd(req.secret)]),
              replace('userAccountControl', [String(UAC.NORMAL_ACCOUNT)]),
              replace('accountExpires', [accountExpires]),
            ]);
            const want = new Set(groups.map((g) => dnKey(parseDN(g.dn))));
            for (const g of values(now, 'memberOf')) if (!want.has(dnKey(parseDN(g)))) await removeMember(c, adDN(g), dn);
          }
          const added: string[] = [];
          try {
            for (const g of groups) {
              await addMember(c, g.dn, dn);
              added.push(g.dn);
            }
          } catch (err) {
            // No half-made account (best effort; what stays is marked, so reconcile finds it).
            if (created) {
              for (const g of added) await removeMember(c, g, dn).catch(() => {});
              await c.del(dn).catch(() => {});
            }
            throw err;
          }
        }),
      );
    },

    async extendAccount(req, op: Operation) {
      const accountExpires = toFileTime(req.expiresAt);
      await locks.run(lockKey(req.account), () =>
        pool.use(async (c) => {
          const found = await locate(c, op, req.account);
          if (!found) throw op.fail('the account does not exist');
          requireManaged(op, found.dn, found.entry);
          await c.modify(found.dn, replace('accountExpires', [accountExpires]));
        }),
      );
    },

    async removeAccount(req, op: Operation): Promise<RemoveAccountResponse> {
      return locks.run(lockKey(req.account), () =>
        pool.use(async (c) => {
          const found = await locate(c, op, req.account);
          if (!found) return { existed: false, terminatedSessions: 0 };
          requireManaged(op, found.dn, found.entry);
          // First, on its own: from here no bind, AS or TGS request, or new SMB session succeeds.
          const uac = Number(values(found.entry, 'userAccountControl')[0] ?? UAC.NORMAL_ACCOUNT);
          await c.modify(found.dn, replace('userAccountControl', [String(uac | UAC.ACCOUNTDISABLE)]));
          for (const g of values(found.entry, 'memberOf')) await removeMember(c, adDN(g), found.dn);
          try {
            await c.del(found.dn);
          } catch (err) {
            if (!isResultCode(err, resultCodes.noSuchObject)) throw err;
          }
          // Tickets already issued cannot be recalled (README.md, "What removal cuts").
          return { existed: true, terminatedSessions: 0 };
        }),
      );
    },

    async grantToAccount(req, op: Operation) {
      await locks.run(lockKey(req.account), () =>
        pool.use(async (c) => {
          const found = await locate(c, op, req.account);
          if (!found) throw op.fail('the account does not exist on the target');
          const groups = await resolveGroups(c, op, req.grants, req.allowBuiltinPrivileged === true);
          for (const g of groups) await addMember(c, g.dn, found.dn);
        }),
      );
    },

    async revokeFromAccount(req, op: Operation): Promise<RevokeFromAccountResponse> {
      await locks.run(lockKey(req.account), () =>
        pool.use(async (c) => {
          // A deleted user's links went with it; a group that is gone holds nobody.
          const found = await locate(c, op, req.account);
          if (!found) return;
          for (const g of await resolveGroups(c, op, req.grants, true, true)) await removeMember(c, g.dn, found.dn);
        }),
      );
      // Logon sessions keep the groups of their ticket (README.md, "What removal cuts").
      return { terminatedSessions: 0 };
    },

    async listManaged(): Promise<ListManagedResponse> {
      return pool.use(async (c) => {
        const { searchEntries } = await c.search(ephemeralOU, {
          scope: 'one',
          filter: and(equals('objectClass', 'user'), equals('description', settings.marker)),
          attributes: ['description', 'accountExpires', 'memberOf'],
          paged: { pageSize: 500 },
        });
        const accounts = searchEntries
          .filter((e) => isEphemeralDN(e.dn) && isMarked(e))
          .map((e) => ({ account: parseDN(e.dn)[0]![0]!.value, grants: groupsOf(e), expiresAt: fromFileTime(values(e, 'accountExpires')[0]) }));
        return { accounts };
      });
    },

    async listHolders(req: ListHoldersRequest, op: Operation): Promise<ListHoldersResponse> {
      return pool.use(async (c) => {
        const holders: Holder[] = [];
        const admin = await adminDN(c);
        const dom = await getDomainSid(c, op);
        for (const group of await resolveGroups(c, op, req.grants, true, true)) {
          // Breadth first through nested groups, so each indirect holder says through which.
          const seen = new Set<string>([dnKey(parseDN(group.dn))]);
          let frontier: { dn: string; sid: string | null; via: string[] }[] = [{ dn: group.dn, sid: group.sid, via: [] }];
          while (frontier.length > 0) {
            const next: typeof frontier = [];
            for (const g of frontier) {
              const rid = g.sid?.startsWith(`${dom}-`) ? g.sid.slice(dom.length + 1) : null;
              for (const m of await directMembers(c, settings.baseDN, g.dn, rid)) {
                const key = dnKey(parseDN(m.dn));
                const classes = values(m, 'objectClass').map((v) => v.toLowerCase());
                if (classes.includes('group')) {
                  if (!seen.has(key)) {
                    seen.add(key);
                    const sub = await readEntry(c, adDN(m.dn), ['objectSid']);
                    next.push({ dn: adDN(m.dn), sid: sub && sidOf(sub), via: [values(m, 'sAMAccountName')[0] ?? m.dn, ...g.via] });
                  }
                  continue;
                }
                if (!classes.includes('user') || key === admin) continue;
                const managed = isEphemeralDN(m.dn) && isMarked(m);
                const account = managed ? parseDN(m.dn)[0]![0]!.value : (values(m, 'sAMAccountName')[0] ?? m.dn);
                // Grants may name an own user by any of these (ad-rules.ts); reconcile looks for all of them.
                const aliases = managed ? [] : [...values(m, 'userPrincipalName'), adDN(m.dn)].filter((a) => a !== account);
                holders.push({
                  account,
                  grant: group.asked,
                  managed,
                  // AD records no author for a link value: reconcile asks the store whether Stint added it.
                  grantedByStint: g.via.length === 0 ? null : false,
                  ...(g.via.length > 0 ? { via: g.via } : {}),
                  ...(aliases.length > 0 ? { aliases } : {}),
                });
              }
            }
            frontier = next;
          }
        }
        return { holders };
      });
    },

    async describeAccount(req, op: Operation): Promise<AccountInfo> {
      return pool.use(async (c) => {
        const found = await locate(c, op, req.account);
        return found ? { account: req.account, exists: true, grants: groupsOf(found.entry) } : { account: req.account, exists: false, grants: [] };
      });
    },

    async checkProfile(req, op: Operation) {
      return pool.use(async (c) => {
        const problems: { grant: string; reason: string }[] = [];
        for (const grant of req.grants) {
          const r = await resolveGroup(c, op, grant, req.allowBuiltinPrivileged, false);
          if (typeof r === 'string') problems.push({ grant, reason: r });
        }
        return { problems };
      });
    },

    async checkHealth(op: Operation): Promise<void> {
      await pool.use(async (c) => {
        await getDomainSid(c, op);
        if (!(await readEntry(c, ephemeralOU, ['1.1']))) throw op.fail(`ephemeralOU ${JSON.stringify(ephemeralOU)} does not exist or is not readable`);
      });
    },

    connectionInfo() {
      // {account} is the ephemeral account name; the DN form is RFC 4514-escaped.
      return { urls: settings.urls.join(' '), realm, userPrincipalName: `{account}@${realm}`, bindDN: `CN={account},${ephemeralOU}` };
    },

    close: () => pool.close(),
  };
}
