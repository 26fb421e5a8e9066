// The directory reads and writes the AD connector is built from, each on an
// already bound admin connection. Every filter value goes through filter.ts
// and every DN through dn.ts. Membership changes are idempotent: adding a
// member that is there (AD: entryAlreadyExists) or removing one that is not
// (noSuchAttribute) is success.

import { Attribute, Change, type Client, type Entry } from 'ldapts';
import { values } from '../ldap/directory.js';
import { and, equals, or } from '../ldap/filter.js';
import { isResultCode, resultCodes } from './errors.js';
import { sidToString } from './ad-values.js';

export { values };

/** Reads one object by DN; null when it does not exist (or the admin may not see it). */
export async function readEntry(c: Client, dn: string, attributes: string[]): Promise<Entry | null> {
  try {
    const { searchEntries } = await c.search(dn, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes,
      sizeLimit: 1,
      explicitBufferAttributes: ['objectSid'],
    });
    return searchEntries[0] ?? null;
  } catch (err) {
    if (isResultCode(err, resultCodes.noSuchObject)) return null;
    throw err;
  }
}

/** The objectSid of an entry in string form, or null. */
export function sidOf(entry: Entry): string | null {
  const raw = entry.objectSid ?? entry.objectsid;
  const buf = Array.isArray(raw) ? raw[0] : raw;
  return Buffer.isBuffer(buf) ? sidToString(buf) : null;
}

/** Users and groups below `base` whose sAMAccountName or userPrincipalName is `name` (at most two, to detect ambiguity). */
export async function findPrincipal(c: Client, base: string, name: string, objectClass: 'user' | 'group'): Promise<Entry[]> {
  const by = objectClass === 'user' && name.includes('@') ? equals('userPrincipalName', name) : equals('sAMAccountName', name);
  const { searchEntries } = await c.search(base, {
    scope: 'sub',
    filter: and(equals('objectClass', objectClass), by),
    attributes: ['objectClass', 'objectSid', 'description', 'memberOf'],
    sizeLimit: 2,
    explicitBufferAttributes: ['objectSid'],
  });
  return searchEntries;
}

/** Direct members of a group (member links), users and groups, with what the holder listing needs. */
export async function directMembers(c: Client, base: string, groupDN: string, primaryRid: string | null): Promise<Entry[]> {
  const filter = primaryRid
    ? or(equals('memberOf', groupDN), and(equals('objectClass', 'user'), equals('primaryGroupID', primaryRid)))
    : equals('memberOf', groupDN);
  const { searchEntries } = await c.search(base, {
    scope: 'sub',
    filter,
    attributes: ['objectClass', 'sAMAccountName', 'userPrincipalName', 'description'],
    paged: { pageSize: 500 },
  });
  return searchEntries;
}

export async function addMember(c: Client, groupDN: string, memberDN: string): Promise<void> {
  try {
    await c.modify(groupDN, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [memberDN] }) }));
  } catch (err) {
    // AD answers entryAlreadyExists for a member already there; other servers attributeOrValueExists.
    if (!isResultCode(err, resultCodes.entryAlreadyExists) && !isResultCode(err, resultCodes.attributeOrValueExists)) throw err;
  }
}

/** Removes `memberDN` from a group; a missing value or a missing group is success. */
export async function removeMember(c: Client, groupDN: string, memberDN: string): Promise<void> {
  try {
    await c.modify(groupDN, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [memberDN] }) }));
  } catch (err) {
    if (isResultCode(err, resultCodes.noSuchAttribute) || isResultCode(err, resultCodes.noSuchObject)) return;
    // Windows answers unwillingToPerform (ERROR_MEMBER_NOT_IN_GROUP) for a member that is not there: success only if so.
    if (isResultCode(err, resultCodes.unwillingToPerform)) {
      const group = await readEntry(c, groupDN, ['member']);
      const still = group ? values(group, 'member').some((m) => m.toLowerCase() === memberDN.toLowerCase()) : false;
      if (!still) return;
    }
    throw err;
  }
}

export function replace(type: string, vals: (string | Buffer)[]): Change {
  return new Change({ operation: 'replace', modification: new Attribute({ type, values: vals as string[] }) });
}
