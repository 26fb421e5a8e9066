// Standing-privilege discovery on MariaDB: every login account holding one of
// a profile's grants (a role, or a db- or table-level privilege in the
// grammar's canonical form), directly or through roles granted to roles. Read
// from the grant tables the admin may already read (mysql.roles_mapping,
// mysql.db, mysql.tables_priv); global privileges (mysql.global_priv) are not
// readable by the least-privileged admin and are not reported.

import type { RowDataPacket } from 'mysql2/promise';
import type { Holder } from '../contract.js';
import { allGrants, type Conn } from './catalog.js';
import { formatAccount, type Account } from './grammar.js';

/** Roles may be granted to roles; a longer chain than this is a loop or a mistake, and is cut. */
const MAX_DEPTH = 16;

export async function listHolders(c: Conn, wanted: readonly string[], marker: string, self: Account, accountHost: string): Promise<Holder[]> {
  if (wanted.length === 0) return [];
  const [users] = await c.execute<RowDataPacket[]>(`SELECT User, Host, is_role FROM mysql.user`);
  const isRole = new Set<string>();
  const logins = new Set<string>();
  for (const u of users) (u.is_role === 'Y' ? isRole : logins).add(`${String(u.User)}\0${String(u.Host)}`);
  // Marked accounts are ephemeral ones: plain members of the marker role.
  const [marked] = await c.execute<RowDataPacket[]>(`SELECT User, Host FROM mysql.roles_mapping WHERE Role = ? AND Admin_option = 'N'`, [marker]);
  const managed = new Set(marked.map((r) => `${String(r.User)}\0${String(r.Host)}`));
  const held = await allGrants(c, marker);
  // Who holds role R directly: principals whose grant list contains R.
  const holdersOf = new Map<string, string[]>();
  for (const [k, list] of held) for (const g of list) holdersOf.set(g, [...(holdersOf.get(g) ?? []), k]);

  const out: Holder[] = [];
  const selfKey = `${self.user}\0${self.host}`;
  for (const grant of wanted) {
    const seen = new Set<string>();
    let frontier = (holdersOf.get(grant) ?? []).map((k) => ({ k, via: [] as string[] }));
    for (let depth = 0; frontier.length > 0 && depth < MAX_DEPTH; depth++) {
      const next: typeof frontier = [];
      for (const { k, via } of frontier) {
        if (seen.has(k)) continue;
        seen.add(k);
        const [user = '', host = ''] = k.split('\0');
        // A role's name is what grants it; its holders hold `grant` through it.
        if (isRole.has(k) || host === '') {
          for (const h of holdersOf.get(user) ?? []) next.push({ k: h, via: [user, ...via] });
          continue;
        }
        if (k === selfKey || !logins.has(k)) continue;
        out.push({
          account: formatAccount({ user, host }, accountHost),
          grant,
          managed: managed.has(k),
          // MariaDB records no grantor for roles or database privileges: who granted it cannot be told.
          grantedByStint: via.length === 0 ? null : false,
          ...(via.length > 0 ? { via } : {}),
        });
      }
      frontier = next;
    }
  }
  return out;
}
