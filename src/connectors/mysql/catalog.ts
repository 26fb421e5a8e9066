// Read-only queries against MariaDB's grant tables and information_schema,
// plus session termination. Names are always bound parameters (server-side
// prepared statements) and compared as exact binary strings; nothing is
// pasted into SQL here except integer thread ids.
//
// The admin reads mysql.user through a column grant (Host, User, is_role,
// default_role) so it never sees password hashes.

import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { DB_PRIVILEGES, formatGrant, unescapeDbPattern, type Account, type Grant, type Privilege } from './grammar.js';

export type Conn = Pick<PoolConnection, 'execute' | 'query'>;

// Parameters arrive in the connection's utf8mb4; the grant tables are
// utf8mb3_bin. An explicit binary collation on the parameter keeps the
// comparison exact (case- and accent-sensitive) whatever the defaults are.
const EQ = (col: string) => `${col} = CAST(? AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin`;

export interface AccountState {
  /** Carries Stint's marker: a plain (non-ADMIN) member of the marker role. */
  marked: boolean;
  /** The account's default role, '' when none. */
  defaultRole: string;
}

export async function accountState(c: Conn, a: Account, marker: string): Promise<AccountState | null> {
  const [rows] = await c.execute<RowDataPacket[]>(
    `SELECT u.default_role AS default_role,
            EXISTS (SELECT 1 FROM mysql.roles_mapping m
                     WHERE m.User = u.User AND m.Host = u.Host AND ${EQ('m.Role')} AND m.Admin_option = 'N') AS marked
       FROM mysql.user u WHERE ${EQ('u.User')} AND ${EQ('u.Host')} AND u.is_role = 'N'`,
    [marker, a.user, a.host],
  );
  const r = rows[0];
  if (!r) return null;
  return { marked: Number(r.marked) === 1, defaultRole: String(r.default_role ?? '') };
}

/** Roles among `names` that exist on the server. */
export async function existingRoles(c: Conn, names: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const n of names) {
    const [rows] = await c.execute<RowDataPacket[]>(`SELECT User FROM mysql.user WHERE is_role = 'Y' AND ${EQ('User')}`, [n]);
    if (rows.length > 0) out.add(n);
  }
  return out;
}

// mysql.db privilege columns, per privilege of the grammar.
const dbColumn: Record<Privilege, string> = {
  SELECT: 'Select_priv',
  INSERT: 'Insert_priv',
  UPDATE: 'Update_priv',
  DELETE: 'Delete_priv',
  CREATE: 'Create_priv',
  DROP: 'Drop_priv',
  INDEX: 'Index_priv',
  ALTER: 'Alter_priv',
  REFERENCES: 'References_priv',
  'CREATE TEMPORARY TABLES': 'Create_tmp_table_priv',
  'LOCK TABLES': 'Lock_tables_priv',
  EXECUTE: 'Execute_priv',
  'CREATE VIEW': 'Create_view_priv',
  'SHOW VIEW': 'Show_view_priv',
  'CREATE ROUTINE': 'Create_routine_priv',
  'ALTER ROUTINE': 'Alter_routine_priv',
  EVENT: 'Event_priv',
  TRIGGER: 'Trigger_priv',
  'DELETE HISTORY': 'Delete_history_priv',
};

// mysql.tables_priv.Table_priv SET members, per privilege of the grammar.
const tableSetMember: Record<string, Privilege> = {
  Select: 'SELECT',
  Insert: 'INSERT',
  Update: 'UPDATE',
  Delete: 'DELETE',
  Create: 'CREATE',
  Drop: 'DROP',
  Index: 'INDEX',
  Alter: 'ALTER',
  References: 'REFERENCES',
  'Create View': 'CREATE VIEW',
  'Show view': 'SHOW VIEW',
  Trigger: 'TRIGGER',
  'Delete versioning rows': 'DELETE HISTORY',
};

const key = (user: unknown, host: unknown) => `${String(user)}\0${String(host)}`;

function pushGrant(map: Map<string, string[]>, k: string, g: Grant) {
  const list = map.get(k) ?? [];
  list.push(formatGrant(g));
  map.set(k, list);
}

/**
 * Grants (roles, then db- and table-level privileges in the grammar's
 * canonical form) of the accounts selected by `where` on the
 * User/Host columns. Wildcard database rows (not made by Stint) and
 * privileges outside the grammar (GRANT OPTION, column grants) are not reported.
 */
async function grantsWhere(c: Conn, where: string, params: string[], marker: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const [roles] = await c.execute<RowDataPacket[]>(`SELECT x.User, x.Host, x.Role FROM mysql.roles_mapping x WHERE ${where} ORDER BY x.Role`, params);
  for (const r of roles) {
    if (r.Role !== marker) pushGrant(out, key(r.User, r.Host), { type: 'role', role: String(r.Role) });
  }
  const [dbs] = await c.execute<RowDataPacket[]>(`SELECT x.* FROM mysql.db x WHERE ${where}`, params);
  for (const r of dbs) {
    const db = unescapeDbPattern(String(r.Db));
    if (db === null) continue;
    for (const p of DB_PRIVILEGES) {
      if (r[dbColumn[p]] === 'Y') pushGrant(out, key(r.User, r.Host), { type: 'privilege', privilege: p, db, table: null });
    }
  }
  const [tables] = await c.execute<RowDataPacket[]>(`SELECT x.User, x.Host, x.Db, x.Table_name, x.Table_priv FROM mysql.tables_priv x WHERE ${where}`, params);
  for (const r of tables) {
    for (const member of String(r.Table_priv ?? '').split(',')) {
      const p = tableSetMember[member];
      if (p) pushGrant(out, key(r.User, r.Host), { type: 'privilege', privilege: p, db: String(r.Db), table: String(r.Table_name) });
    }
  }
  for (const [k, list] of out) out.set(k, [...new Set(list)].sort());
  return out;
}

/** Every principal's grants (users and roles, marker excluded), keyed by `User\0Host`: standing-privilege discovery. */
export function allGrants(c: Conn, marker: string): Promise<Map<string, string[]>> {
  return grantsWhere(c, 'TRUE', [], marker);
}

/** The account's grants as the target sees them (marker excluded), sorted. */
export async function grantsOf(c: Conn, a: Account, marker: string): Promise<string[]> {
  const m = await grantsWhere(c, `${EQ('x.User')} AND ${EQ('x.Host')}`, [a.user, a.host], marker);
  return m.get(key(a.user, a.host)) ?? [];
}

export interface MarkedAccount extends Account {
  grants: string[];
}

/** Every plain member of the marker role that is a user (not a role), except `self` (the admin). */
export async function listMarked(c: Conn, marker: string, self: Account): Promise<MarkedAccount[]> {
  const [rows] = await c.execute<RowDataPacket[]>(
    `SELECT m.User, m.Host FROM mysql.roles_mapping m
       JOIN mysql.user u ON u.User = m.User AND u.Host = m.Host AND u.is_role = 'N'
      WHERE ${EQ('m.Role')} AND m.Admin_option = 'N' ORDER BY m.User, m.Host`,
    [marker],
  );
  const accounts = rows.map((r) => ({ user: String(r.User), host: String(r.Host) })).filter((a) => !(a.user === self.user && a.host === self.host));
  if (accounts.length === 0) return [];
  const markedWhere = `EXISTS (SELECT 1 FROM mysql.roles_mapping k WHERE k.User = x.User AND k.Host = x.Host AND ${EQ('k.Role')} AND k.Admin_option = 'N')`;
  const grants = await grantsWhere(c, markedWhere, [marker], marker);
  return accounts.map((a) => ({ ...a, grants: grants.get(key(a.user, a.host)) ?? [] }));
}

/** Expiry events in `schema`, by event name: their AT time (UTC, as the connector creates them). */
export async function expiryEvents(c: Conn, schema: string): Promise<Map<string, string>> {
  const [rows] = await c.execute<RowDataPacket[]>(
    `SELECT EVENT_NAME, DATE_FORMAT(EXECUTE_AT, '%Y-%m-%d %H:%i:%s') AS at FROM information_schema.EVENTS
      WHERE ${EQ('EVENT_SCHEMA')} AND EXECUTE_AT IS NOT NULL`,
    [schema],
  );
  return new Map(rows.map((r) => [String(r.EVENT_NAME), String(r.at)]));
}

/**
 * Kills every connection whose user name is `user` (other than this one) and
 * returns how many were killed. information_schema.PROCESSLIST shows only the
 * user name, so sessions of the same user name from another account host die
 * too (the safe direction). A thread that ended meanwhile (1094) is skipped.
 */
export async function killSessions(c: Conn, user: string): Promise<number> {
  const [rows] = await c.execute<RowDataPacket[]>(`SELECT ID FROM information_schema.PROCESSLIST WHERE ${EQ('USER')} AND ID <> CONNECTION_ID()`, [user]);
  let killed = 0;
  for (const r of rows) {
    const id = Number(r.ID);
    if (!Number.isSafeInteger(id) || id <= 0) continue;
    try {
      await c.query(`KILL CONNECTION ${id}`);
      killed++;
    } catch (err) {
      if ((err as { errno?: unknown }).errno !== 1094) throw err;
    }
  }
  return killed;
}

export async function currentAccount(c: Conn): Promise<Account> {
  const [rows] = await c.query<RowDataPacket[]>('SELECT CURRENT_USER() AS cu');
  const cu = String(rows[0]?.cu ?? '');
  const at = cu.lastIndexOf('@');
  return { user: cu.slice(0, at), host: cu.slice(at + 1) };
}
