// Standing-privilege discovery on LDAP: the members of a profile's groups,
// directly or through nested groups (a member that is itself a groupOfNames
// or groupOfUniqueNames). Members that do not exist (placeholders, stale
// references) hold nothing and are left out.

import type { Client } from 'ldapts';
import type { Holder } from '../contract.js';
import { memberAttributeOf, readEntry, values } from './directory.js';
import { dnKey, formatDN, parseDN } from './dn.js';

export interface HolderContext {
  /** The admin's DN: never listed. */
  admin: string;
  /** The uid of a marked ephemeral entry, else null (the entry is read with `description`). */
  ephemeralName(dn: string, description: string[]): string | null;
}

const MAX_DEPTH = 16;

export async function listHolders(c: Client, groups: readonly string[], ctx: HolderContext): Promise<Holder[]> {
  const out: Holder[] = [];
  const adminKey = dnKey(parseDN(ctx.admin));
  for (const group of groups) {
    const seen = new Set<string>([dnKey(parseDN(group))]);
    let frontier: { dn: string; via: string[] }[] = [{ dn: group, via: [] }];
    for (let depth = 0; frontier.length > 0 && depth < MAX_DEPTH; depth++) {
      const next: typeof frontier = [];
      for (const g of frontier) {
        const entry = await readEntry(c, g.dn, ['objectClass', 'member', 'uniqueMember']);
        const attr = entry && memberAttributeOf(entry);
        if (!entry || !attr) continue;
        for (const raw of values(entry, attr)) {
          // uniqueMember may carry an optional `#'…'B` UID suffix (RFC 4519): the DN is before it.
          const memberDN = attr === 'uniqueMember' ? raw.replace(/#'[01]*'B$/, '') : raw;
          let key: string;
          try {
            key = dnKey(parseDN(memberDN));
          } catch {
            continue;
          }
          if (seen.has(key)) continue;
          seen.add(key);
          const m = await readEntry(c, memberDN, ['objectClass', 'description']);
          if (!m) continue;
          if (memberAttributeOf(m)) {
            next.push({ dn: memberDN, via: [formatDN(parseDN(memberDN)), ...g.via] });
            continue;
          }
          if (key === adminKey) continue;
          const eph = ctx.ephemeralName(memberDN, values(m, 'description'));
          out.push({
            account: eph ?? formatDN(parseDN(memberDN)),
            grant: group,
            managed: eph !== null,
            // OpenLDAP records who last modified an entry, not who added one value: who granted it cannot be told.
            grantedByStint: g.via.length === 0 ? null : false,
            ...(g.via.length > 0 ? { via: g.via } : {}),
          });
        }
      }
      frontier = next;
    }
  }
  return out;
}
