// LDAP connector: ephemeral inetOrgPerson entries under one OU, and
// own-account membership in groupOfNames/groupOfUniqueNames groups. A
// profile's grants are group DNs. See README.md beside this file for the
// ACLs the admin needs.
//
// Safety rules, enforced here rather than trusted to callers:
// - every DN is built from parsed RDNs with escaped values (dn.ts) and every
//   filter value is escaped (filter.ts); nothing is pasted into either;
// - only entries directly under the ephemeral OU that carry the marker are
//   ever modified, deleted or listed as managed;
// - passwords travel as `{SSHA}` verifiers and every error is scrubbed.

import { Client, type Entry } from 'ldapts';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import type {
  AccountInfo,
  CreateAccountRequest,
  ExtendAccountRequest,
  GrantToAccountRequest,
  ListHoldersRequest,
  ListHoldersResponse,
  ListManagedResponse,
  RemoveAccountRequest,
  RemoveAccountResponse,
  RevokeFromAccountRequest,
  RevokeFromAccountResponse,
} from '../contract.js';
import { operationError, type KindConnector, type Operation } from '../kit/operation.js';
import type { KindInput } from '../module.js';
import { addMember, groupsOf, memberAttributeOf, readEntry, removeMember, replace, values, type MemberAttribute } from './directory.js';
import { childDN, dnKey, formatDN, isChildOf, isDN, isWithin, parseDN, type Rdn } from './dn.js';
import { and, equals } from './filter.js';
import { isResultCode, resultCodes, toTargetError } from './errors.js';
import { parseGeneralizedTime, sshaVerifier, toGeneralizedTime } from './ldap-values.js';
import type { LdapSettings } from './settings.js';
import { listHolders } from './holders.js';

/** uid is a Directory String of at most 256 characters (RFC 4519). */
const MAX_NAME_LENGTH = 256;

interface Account {
  /** DN as sent to the server, canonically escaped. */
  dn: string;
  rdns: Rdn[];
  /** The uid when the DN is an immediate `uid=` child of the ephemeral OU. */
  ephemeralName: string | null;
}

/** Why an ephemeral account name is unusable, or null. */
export function checkEphemeralName(name: string): string | null {
  if (name.length === 0) return 'must not be empty';
  if ([...name].length > MAX_NAME_LENGTH) return `longer than ${MAX_NAME_LENGTH} characters (uid's limit)`;
  if (name.includes('\0')) return 'must not contain a NUL character';
  // A lone surrogate cannot be sent as UTF-8 (with the u flag, a valid pair is one code point, not Cs).
  if (/\p{Cs}/u.test(name)) return 'must be well-formed Unicode';
  return null;
}

/** The kind's operations; kit/create.ts parses the settings and wraps these (module.ts). */
export function openLdap(input: KindInput<LdapSettings>): KindConnector {
  const target = input.target;
  const settings = input.settings;
  const ephemeralOU = formatDN(parseDN(settings.ephemeralOU));
  const ephemeralRdns = parseDN(ephemeralOU);
  const groupBase = settings.groupBaseDN ?? settings.baseDN;
  const groupBaseRdns = parseDN(groupBase);
  const locks = new KeyedMutex();
  const open = new Set<Client>();
  let closed = false;

  const fail = (operation: string, account: string | undefined, reason: string) => operationError('ldap', target, operation, account, reason);

  /**
   * A fresh connection bound as the admin for each operation. A bind belongs
   * to a connection, so a long-lived one that silently reconnected would run
   * the next operation anonymously; a fresh one cannot. It costs one round
   * trip more, which is nothing next to how rarely access changes.
   */
  async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = new Client({
      url: settings.url,
      connectTimeout: settings.connectTimeoutMs ?? 10_000,
      timeout: settings.operationTimeoutMs ?? 30_000,
    });
    open.add(c);
    try {
      await c.bind(input.adminUser, input.adminSecret);
      return await fn(c);
    } finally {
      open.delete(c);
      await c.unbind().catch(() => {});
    }
  }

  /**
   * An account string is a DN when it parses as one (own accounts), else the
   * uid of an ephemeral account under the ephemeral OU. Broker-made names
   * (`stint_<user>_<random>`) never contain `=`, so they are never DNs.
   */
  function resolve(operation: string, account: string): Account {
    if (isDN(account)) {
      const rdns = parseDN(account);
      const first = rdns[0]!;
      const ephemeral = isChildOf(rdns, ephemeralRdns) && first.length === 1 && first[0]!.type.toLowerCase() === 'uid';
      return { dn: formatDN(rdns), rdns, ephemeralName: ephemeral ? first[0]!.value : null };
    }
    const dn = childDN('uid', account, ephemeralOU);
    return { dn, rdns: parseDN(dn), ephemeralName: account };
  }

  /** Resolves an account that must be an ephemeral one (create, extend, remove). */
  function resolveEphemeral(operation: string, account: string): Account & { ephemeralName: string } {
    const a = resolve(operation, account);
    if (a.ephemeralName === null) {
      throw fail(operation, account, `not an ephemeral account: Stint only manages uid= entries directly under ${JSON.stringify(ephemeralOU)}`);
    }
    return a as Account & { ephemeralName: string };
  }

  function grantProblem(g: string): string | null {
    if (!isDN(g)) return `grant ${JSON.stringify(g)} is not a group DN`;
    if (!isWithin(parseDN(g), groupBaseRdns)) return `grant ${JSON.stringify(g)} is outside ${JSON.stringify(groupBase)}`;
    return null;
  }

  /** Checked grants (grantProblem), each once, canonically escaped. */
  function canonicalGrants(grants: string[]): string[] {
    const byKey = new Map<string, string>();
    for (const g of grants) {
      const rdns = parseDN(g);
      byKey.set(dnKey(rdns), formatDN(rdns));
    }
    return [...byKey.values()];
  }

  /** Reads each group, failing (before anything changes) when one is missing or not a group. */
  async function groupKinds(c: Client, operation: string, account: string, grants: string[]): Promise<Map<string, MemberAttribute>> {
    const kinds = new Map<string, MemberAttribute>();
    for (const g of grants) {
      const entry = await readEntry(c, g, ['objectClass']);
      if (!entry) throw fail(operation, account, `group ${JSON.stringify(g)} does not exist (or the admin may not read it)`);
      const attr = memberAttributeOf(entry);
      if (!attr) throw fail(operation, account, `${JSON.stringify(g)} is not a groupOfNames or groupOfUniqueNames`);
      kinds.set(g, attr);
    }
    return kinds;
  }

  function expiryValue(operation: string, account: string, at: Date): string | null {
    try {
      const time = toGeneralizedTime(at);
      return settings.expiry === 'ppolicy' ? time : null;
    } catch (e) {
      throw fail(operation, account, `expiresAt ${(e as Error).message}`);
    }
  }

  function isMarked(entry: Entry): boolean {
    const marker = settings.marker.toLowerCase();
    return values(entry, 'description').some((d) => d.toLowerCase() === marker);
  }

  function requireManaged(operation: string, account: string, entry: Entry): void {
    if (!isMarked(entry)) {
      throw fail(operation, account, `the entry exists but is not managed by Stint (no description ${JSON.stringify(settings.marker)}); it was left unchanged`);
    }
  }

  const lockKey = (a: Account) => dnKey(a.rdns);

  return {
    classify: toTargetError,
    // A DN names an own account; anything else is the uid of an ephemeral one.
    checkAccount(account) {
      if (isDN(account)) return null;
      const why = checkEphemeralName(account);
      return why ? `account name ${why}` : null;
    },
    checkGrant: grantProblem,

    async createAccount(req: CreateAccountRequest, { secret }: Operation): Promise<void> {
      const op = 'createAccount';
      const acct = resolveEphemeral(op, req.account);
      const grants = canonicalGrants(req.grants);
      const until = expiryValue(op, req.account, req.expiresAt);
      const verifier = sshaVerifier(req.secret);
      secret(verifier);
      const credentials = [
        replace('userPassword', [verifier]),
        ...(until ? [replace('pwdEndTime', [until])] : []),
        ...(settings.passwordPolicyDN ? [replace('pwdPolicySubentry', [settings.passwordPolicyDN])] : []),
      ];
      await locks.run(lockKey(acct), () =>
        withAdmin(async (c) => {
          // Groups first: a missing one fails the request before anything exists.
          const kinds = await groupKinds(c, op, req.account, grants);
          let created = false;
          const existing = await readEntry(c, acct.dn, ['description']);
          if (!existing) {
            try {
              await c.add(acct.dn, {
                objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
                uid: acct.ephemeralName,
                cn: acct.ephemeralName,
                sn: acct.ephemeralName,
                description: settings.marker,
                userPassword: verifier,
                ...(until ? { pwdEndTime: until } : {}),
                ...(settings.passwordPolicyDN ? { pwdPolicySubentry: settings.passwordPolicyDN } : {}),
              });
              created = true;
            } catch (err) {
              // Another broker created it between our read and add: converge on it below.
              if (!isResultCode(err, resultCodes.entryAlreadyExists)) throw err;
            }
          }
          if (!created) {
            const now = existing ?? (await readEntry(c, acct.dn, ['description']));
            if (!now) throw fail(op, req.account, 'the entry vanished while it was being created; retry');
            requireManaged(op, req.account, now);
            // Idempotent retry: bring the existing account to exactly the requested state.
            await c.modify(acct.dn, credentials);
          }
          const added: string[] = [];
          try {
            for (const g of grants) {
              await addMember(c, g, kinds.get(g)!, acct.dn);
              added.push(g);
            }
            if (!created) {
              const want = new Set(grants.map((g) => dnKey(parseDN(g))));
              for (const g of await groupsOf(c, groupBase, acct.dn)) {
                if (want.has(dnKey(parseDN(g)))) continue;
                const entry = await readEntry(c, g, ['objectClass']);
                const attr = entry && memberAttributeOf(entry);
                if (attr) await removeMember(c, g, attr, acct.dn);
              }
            }
          } catch (err) {
            // No half-made account: undo what this call created (best effort;
            // whatever stays is marked, so reconcile finds it).
            if (created) {
              for (const g of added) await removeMember(c, g, kinds.get(g)!, acct.dn).catch(() => {});
              await c.del(acct.dn).catch(() => {});
            }
            throw err;
          }
        }),
      );
    },

    async extendAccount(req: ExtendAccountRequest): Promise<void> {
      const op = 'extendAccount';
      const acct = resolveEphemeral(op, req.account);
      const until = expiryValue(op, req.account, req.expiresAt);
      await locks.run(lockKey(acct), () =>
        withAdmin(async (c) => {
          const entry = await readEntry(c, acct.dn, ['description']);
          if (!entry) throw fail(op, req.account, 'the account does not exist');
          requireManaged(op, req.account, entry);
          if (until) await c.modify(acct.dn, replace('pwdEndTime', [until]));
        }),
      );
    },

    async removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse> {
      const op = 'removeAccount';
      const acct = resolve(op, req.account);
      return locks.run(lockKey(acct), () =>
        withAdmin(async (c) => {
          const entry = await readEntry(c, acct.dn, ['description']);
          if (!entry) return { existed: false, terminatedSessions: 0 };
          if (acct.ephemeralName === null) {
            throw fail(
              op,
              req.account,
              `the entry is not under the ephemeral OU ${JSON.stringify(ephemeralOU)}, so Stint does not manage it; it was left unchanged`,
            );
          }
          requireManaged(op, req.account, entry);
          // First, on its own: no new bind can succeed even if a later step fails.
          await c.modify(acct.dn, replace('userPassword', []));
          // Then out of every group, before the entry goes: a membership left
          // behind would pass to a later entry that reuses the DN.
          for (const g of await groupsOf(c, groupBase, acct.dn)) {
            const group = await readEntry(c, g, ['objectClass']);
            const attr = group && memberAttributeOf(group);
            if (attr) await removeMember(c, g, attr, acct.dn);
          }
          try {
            await c.del(acct.dn);
          } catch (err) {
            if (!isResultCode(err, resultCodes.noSuchObject)) throw err;
          }
          // LDAP offers no way to close another client's connection; see
          // README.md ("Open connections") for what happens to them.
          return { existed: true, terminatedSessions: 0 };
        }),
      );
    },

    async grantToAccount(req: GrantToAccountRequest): Promise<void> {
      const op = 'grantToAccount';
      const acct = resolve(op, req.account);
      const grants = canonicalGrants(req.grants);
      await locks.run(lockKey(acct), () =>
        withAdmin(async (c) => {
          if (!(await readEntry(c, acct.dn, ['1.1']))) throw fail(op, req.account, 'the account does not exist on the target');
          const kinds = await groupKinds(c, op, req.account, grants);
          for (const g of grants) await addMember(c, g, kinds.get(g)!, acct.dn);
        }),
      );
    },

    async revokeFromAccount(req: RevokeFromAccountRequest): Promise<RevokeFromAccountResponse> {
      const op = 'revokeFromAccount';
      const acct = resolve(op, req.account);
      const grants = canonicalGrants(req.grants);
      await locks.run(lockKey(acct), () =>
        withAdmin(async (c) => {
          // The account need not exist: a membership left by a deleted
          // account is still removed. A group that is gone, or is no group,
          // cannot hold the account, so it is skipped.
          for (const g of grants) {
            const group = await readEntry(c, g, ['objectClass']);
            const attr = group && memberAttributeOf(group);
            if (attr) await removeMember(c, g, attr, acct.dn);
          }
        }),
      );
      // Sessions cannot be ended over LDAP (README.md, "Open connections").
      return { terminatedSessions: 0 };
    },

    async listManaged(): Promise<ListManagedResponse> {
      return withAdmin(async (c) => {
        const { searchEntries } = await c.search(ephemeralOU, {
          scope: 'one',
          filter: and(equals('objectClass', 'inetOrgPerson'), equals('description', settings.marker)),
          // pwdEndTime is operational: returned only when asked for.
          attributes: settings.expiry === 'ppolicy' ? ['description', 'pwdEndTime'] : ['description'],
          paged: { pageSize: 500 },
        });
        const accounts = [];
        for (const e of searchEntries) {
          const rdns = parseDN(e.dn);
          const first = rdns[0]!;
          // Only what createAccount makes: a single uid RDN directly under the OU.
          if (first.length !== 1 || first[0]!.type.toLowerCase() !== 'uid' || !isChildOf(rdns, ephemeralRdns) || !isMarked(e)) continue;
          accounts.push({
            account: first[0]!.value,
            grants: await groupsOf(c, groupBase, e.dn),
            expiresAt: parseGeneralizedTime(values(e, 'pwdEndTime')[0]),
          });
        }
        return { accounts };
      });
    },

    async listHolders(req: ListHoldersRequest): Promise<ListHoldersResponse> {
      const groups = canonicalGrants(req.grants);
      return withAdmin(async (c) => ({
        holders: await listHolders(c, groups, {
          admin: input.adminUser,
          ephemeralName(dn, description) {
            const a = resolve('listHolders', dn);
            const marker = settings.marker.toLowerCase();
            return a.ephemeralName !== null && description.some((d) => d.toLowerCase() === marker) ? a.ephemeralName : null;
          },
        }),
      }));
    },

    async describeAccount(req: { account: string }): Promise<AccountInfo> {
      const op = 'describeAccount';
      const acct = resolve(op, req.account);
      return withAdmin(async (c) => {
        const entry = await readEntry(c, acct.dn, ['1.1']);
        if (!entry) return { account: req.account, exists: false, grants: [] };
        return { account: req.account, exists: true, grants: await groupsOf(c, groupBase, entry.dn) };
      });
    },

    async checkHealth(): Promise<void> {
      await withAdmin(async (c) => {
        if (!(await readEntry(c, settings.baseDN, ['1.1'])))
          throw fail('checkHealth', undefined, `baseDN ${JSON.stringify(settings.baseDN)} does not exist or is not readable by the admin`);
      });
    },

    connectionInfo() {
      // How a person binds with an ephemeral account; {account} is the account name, RFC 4514-escaped.
      return { url: settings.url, baseDN: settings.baseDN, bindDN: `uid={account},${ephemeralOU}` };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all([...open].map((c) => c.unbind().catch(() => {})));
    },
  };
}
