// The directory reads and writes the connector is built from, each on an
// already bound admin client. Group membership changes are idempotent: adding
// a value that is there, or deleting one that is not, is success.

import { Attribute, Change, type Client, type Entry } from 'ldapts';
import { and, equals, or } from './filter.js';
import { isResultCode, resultCodes } from './errors.js';

export type MemberAttribute = 'member' | 'uniqueMember';

/** Reads one entry by DN; null when it does not exist (or the admin may not see it). */
export async function readEntry(c: Client, dn: string, attributes: string[]): Promise<Entry | null> {
  try {
    const { searchEntries } = await c.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes, sizeLimit: 1 });
    return searchEntries[0] ?? null;
  } catch (err) {
    if (isResultCode(err, resultCodes.noSuchObject)) return null;
    throw err;
  }
}

/** All values of an attribute as strings, whatever case the server used for its name. */
export function values(entry: Entry, attribute: string): string[] {
  const want = attribute.toLowerCase();
  for (const [k, v] of Object.entries(entry)) {
    if (k.toLowerCase() !== want) continue;
    const list = Array.isArray(v) ? v : [v];
    return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
  }
  return [];
}

/** Which attribute holds the members of a group, from its object classes; null when it is not a group. */
export function memberAttributeOf(entry: Entry): MemberAttribute | null {
  const classes = values(entry, 'objectClass').map((s) => s.toLowerCase());
  if (classes.includes('groupofnames')) return 'member';
  if (classes.includes('groupofuniquenames')) return 'uniqueMember';
  return null;
}

/** DNs of the groups below `base` that list `memberDN` (either group type). */
export async function groupsOf(c: Client, base: string, memberDN: string): Promise<string[]> {
  const filter = or(
    and(equals('objectClass', 'groupOfNames'), equals('member', memberDN)),
    and(equals('objectClass', 'groupOfUniqueNames'), equals('uniqueMember', memberDN)),
  );
  const { searchEntries } = await c.search(base, { scope: 'sub', filter, attributes: ['1.1'], paged: { pageSize: 500 } });
  return searchEntries.map((e) => e.dn);
}

export async function addMember(c: Client, groupDN: string, attribute: MemberAttribute, memberDN: string): Promise<void> {
  try {
    await c.modify(groupDN, new Change({ operation: 'add', modification: new Attribute({ type: attribute, values: [memberDN] }) }));
  } catch (err) {
    if (!isResultCode(err, resultCodes.attributeOrValueExists)) throw err;
  }
}

/** Removes `memberDN` from a group; a missing value or a missing group is success. */
export async function removeMember(c: Client, groupDN: string, attribute: MemberAttribute, memberDN: string): Promise<void> {
  try {
    await c.modify(groupDN, new Change({ operation: 'delete', modification: new Attribute({ type: attribute, values: [memberDN] }) }));
  } catch (err) {
    if (!isResultCode(err, resultCodes.noSuchAttribute) && !isResultCode(err, resultCodes.noSuchObject)) throw err;
  }
}

/** Replaces an attribute's values; an empty list removes the attribute (no error if it was absent). */
export function replace(type: string, vals: string[]): Change {
  return new Change({ operation: 'replace', modification: new Attribute({ type, values: vals }) });
}
