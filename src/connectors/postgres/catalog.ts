// Read-only catalog queries and session termination. Role names are bind
// parameters, or — in the *Sql builders, for multi-statement simple queries,
// which take no parameters — literals the caller escaped with pg.escapeLiteral.

import type pg from 'pg';

export interface RoleState {
  exists: true;
  /** Carries Stint's marker: a direct, non-ADMIN member of the marker role. */
  marked: boolean;
  validUntil: Date | null;
  /** Roles the account is a direct member of, marker excluded, sorted. */
  grants: string[];
}

type Queryable = Pick<pg.PoolClient, 'query'>;

// A role is "marked" when it is a plain member of the marker role. ADMIN-only
// memberships do not count: on PostgreSQL 16+ the role that created the
// marker holds ADMIN OPTION on it, and that must not make the admin itself
// look managed. The connecting admin and superusers are never managed.
const markedPredicateOf = (alias: string) => `
  ${alias}.rolname <> current_user AND NOT ${alias}.rolsuper AND EXISTS (
    SELECT 1 FROM pg_auth_members m JOIN pg_roles k ON k.oid = m.roleid
    WHERE m.member = ${alias}.oid AND k.rolname = $MARKER AND NOT m.admin_option)`;
const markedPredicate = markedPredicateOf('r');

const grantsExpr = `
  ARRAY(SELECT DISTINCT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
        WHERE m.member = r.oid AND g.rolname <> $MARKER ORDER BY 1)`;

const withMarker = (sql: string, n: number) => sql.replaceAll('$MARKER', `$${n}`);

function validUntilOf(v: unknown): Date | null {
  // 'infinity' and NULL both mean "no expiry".
  return v instanceof Date && !Number.isNaN(v.getTime()) ? v : null;
}

const roleStateColumns = `r.rolvaliduntil AS valid_until, (${markedPredicate}) AS marked, ${grantsExpr} AS grants`;
/** The role-state query with more columns, up to the role name (to append), $MARKER still in place. */
const roleStateSelectWith = (extraColumns: string) => `SELECT ${roleStateColumns}${extraColumns} FROM pg_roles r WHERE r.rolname = `;
const roleStateSelect = roleStateSelectWith('');
/** Fills in the marker literal (a function replacement: a literal may contain `$`) and the account literal. */
const withLiterals = (template: string, accountLiteral: string, markerLiteral: string) =>
  `${template.replaceAll('$MARKER', () => markerLiteral)}${accountLiteral}`;

interface RoleStateRow {
  valid_until: unknown;
  marked: boolean;
  grants: string[];
}

export function roleStateOf(row: unknown): RoleState | null {
  if (!row) return null;
  const r = row as RoleStateRow;
  return { exists: true, marked: r.marked, validUntil: validUntilOf(r.valid_until), grants: r.grants };
}

export async function roleState(c: Queryable, account: string, marker: string): Promise<RoleState | null> {
  const res = await c.query<RoleStateRow>(`${withMarker(roleStateSelect, 2)}$1`, [account, marker]);
  return roleStateOf(res.rows[0]);
}

export interface RemovalState extends RoleState {
  /** The role's OID, as text: its sessions are found by it, also once the role is dropped. */
  oid: string;
  /** The connecting admin already has the role's privileges (an inheriting member of it). */
  adminMember: boolean;
  /**
   * Something in the cluster depends on the role (pg_shdepend: objects it owns,
   * privileges granted to or by it, policies, default privileges, in any
   * database): only then can REASSIGN OWNED / DROP OWNED have work to do.
   */
  hasDependents: boolean;
  /** It has sessions right now (ending them on PostgreSQL 16+ takes its privileges or pg_signal_backend). */
  hasSessions: boolean;
  /**
   * Other Stint-managed accounts owning objects on which this one holds
   * privileges (in this database or shared): revoking those privileges takes
   * the owner's privileges, which the admin then needs too.
   */
  grantingAccounts: string[];
}

/**
 * roleState plus what removeAccount needs to skip steps that would do nothing,
 * with the name and marker as escaped literals (a multi-statement simple query).
 * Use removalStateOf on its row.
 */
export function removalStateSql(accountLiteral: string, markerLiteral: string, serverVersion: number): string {
  // Since PostgreSQL 16 a membership carries its own INHERIT option; before, the member role's INHERIT decides.
  const inherits = serverVersion >= 160000 ? ' AND m.inherit_option' : '';
  const extra =
    `, r.oid::text AS oid` +
    `, EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = r.oid AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)${inherits}) AS admin_member` +
    `, EXISTS (SELECT 1 FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid) AS has_dependents` +
    `, EXISTS (${backendsOf('r.oid')}) AS has_sessions` +
    // Owners (owner dependencies of the same objects) of what the role holds privileges on (ACL dependencies).
    // Only looked for when something depends on the role (the CASE runs the subquery only then).
    `, CASE WHEN EXISTS (SELECT 1 FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid) THEN ARRAY(SELECT DISTINCT o.rolname::text FROM pg_shdepend a
         JOIN pg_shdepend d ON d.dbid = a.dbid AND d.classid = a.classid AND d.objid = a.objid AND d.deptype = 'o' AND d.refclassid = 'pg_authid'::regclass
         JOIN pg_roles o ON o.oid = d.refobjid
        WHERE a.refclassid = 'pg_authid'::regclass AND a.refobjid = r.oid AND a.deptype = 'a'
          AND a.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
          AND o.oid <> r.oid AND ${markedPredicateOf('o')} ORDER BY 1) ELSE '{}'::text[] END AS granting_accounts`;
  return withLiterals(roleStateSelectWith(extra), accountLiteral, markerLiteral);
}

/** What the one-statement removal needs to know: less to plan and to run than removalStateSql. */
export interface QuickRemovalState {
  oid: string;
  marked: boolean;
  hasDependents: boolean;
}

/**
 * The lean read before a one-statement removal (row: quickRemovalStateOf),
 * literals as for removalStateSql. Each part is an index lookup: no list of
 * the role's grants, nothing that grows with the number of managed accounts;
 * and no look at the backends, whose status a transaction reads once and
 * keeps: the removal's own look, after DROP ROLE, must be the first.
 */
export function quickRemovalStateSql(accountLiteral: string, markerLiteral: string): string {
  return (
    `SELECT r.oid::text AS oid, (r.rolname <> current_user AND NOT r.rolsuper AND EXISTS (SELECT 1 FROM pg_auth_members m ` +
    `WHERE m.member = r.oid AND m.roleid = (SELECT k.oid FROM pg_roles k WHERE k.rolname = ${markerLiteral}) AND NOT m.admin_option)) AS marked, ` +
    `EXISTS (SELECT 1 FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid) AS has_dependents ` +
    `FROM pg_roles r WHERE r.rolname = ${accountLiteral}`
  );
}

export function quickRemovalStateOf(row: unknown): QuickRemovalState | null {
  if (!row) return null;
  const r = row as { oid: string; marked: boolean; has_dependents: boolean };
  return { oid: String(r.oid), marked: r.marked === true, hasDependents: r.has_dependents !== false };
}

export function removalStateOf(row: unknown): RemovalState | null {
  const base = roleStateOf(row);
  if (!base) return null;
  const r = row as { oid: string; admin_member: boolean; has_dependents: boolean; has_sessions: boolean; granting_accounts: string[] };
  return {
    ...base,
    oid: String(r.oid),
    adminMember: r.admin_member === true,
    hasDependents: r.has_dependents !== false,
    hasSessions: r.has_sessions !== false,
    grantingAccounts: r.granting_accounts ?? [],
  };
}

/**
 * The same query with the role name and marker as literals already escaped by
 * pg.escapeLiteral, for a multi-statement simple query (which takes no parameters).
 * Use roleStateOf on its row.
 */
export function roleStateSql(accountLiteral: string, markerLiteral: string): string {
  return withLiterals(roleStateSelect, accountLiteral, markerLiteral);
}

export interface ManagedRow {
  account: string;
  grants: string[];
  expiresAt: Date | null;
}

export async function listMarked(c: Queryable, marker: string): Promise<ManagedRow[]> {
  const sql = withMarker(
    `SELECT r.rolname::text AS account, r.rolvaliduntil AS valid_until, ${grantsExpr} AS grants
       FROM pg_roles r WHERE ${markedPredicate} ORDER BY 1`,
    1,
  );
  const res = await c.query<{ account: string; valid_until: unknown; grants: string[] }>(sql, [marker]);
  return res.rows.map((r) => ({ account: r.account, grants: r.grants, expiresAt: validUntilOf(r.valid_until) }));
}

/** Roles among `names` that exist. */
export async function existingRoles(c: Queryable, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const res = await c.query<{ rolname: string }>(`SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1::text[])`, [names]);
  return new Set(res.rows.map((r) => r.rolname));
}

export async function serverVersionNum(c: Queryable): Promise<number> {
  const res = await c.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  return res.rows[0]?.v ?? 0;
}

/**
 * Terminates every session of `account` (in any database of the cluster) and
 * returns how many ended. On PostgreSQL 14+ each call waits up to
 * `waitMs` for the backend to be gone, so a caller that next drops the role
 * does not race the dying session's locks.
 */
export async function terminateSessions(c: Queryable, account: string, serverVersion: number, waitMs = 5000): Promise<number> {
  const res = await c.query<{ n: number }>(terminateSelect(serverVersion, waitMs, '$1'), [account]);
  return res.rows[0]?.n ?? 0;
}

/**
 * Ends the sessions of roles that no longer exist, among the given OIDs
 * (those of roles removeAccount dropped): a login that was still starting up
 * when its role was dropped is listed among the backends only a moment later.
 * Roles that exist again under a reused OID are left alone. Returns how many
 * ended; ending them takes pg_signal_backend.
 */
export async function terminateOrphanSessions(c: Queryable, oids: readonly string[]): Promise<number> {
  const res = await c.query<{ n: number }>(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(b.pid))::int AS n FROM (
       SELECT pg_stat_get_backend_pid(s.id) AS pid, pg_stat_get_backend_userid(s.id) AS userid FROM pg_stat_get_backend_idset() AS s(id)) b
     WHERE b.userid = ANY($1::oid[]) AND b.pid <> pg_backend_pid() AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = b.userid)`,
    [oids.filter((o) => /^[0-9]+$/.test(o))],
  );
  return res.rows[0]?.n ?? 0;
}

/** terminateSessions as one statement with the name as an escaped literal (row: `{ n }`). */
export function terminateSessionsSql(accountLiteral: string, serverVersion: number, waitMs = 5000): string {
  return terminateSelect(serverVersion, waitMs, accountLiteral);
}

// The backends are found with the pg_stat_get_backend_* functions rather than
// the pg_stat_activity view: the view checks the caller's rights on each
// backend's role, and on PostgreSQL 16+ the first such check after any role
// change walks every membership the admin has (one per account it manages) —
// during a storm of removals, in every removal.
const backendsOf = (roleOid: string) =>
  `SELECT pg_stat_get_backend_pid(s.id) AS pid FROM pg_stat_get_backend_idset() AS s(id) WHERE pg_stat_get_backend_userid(s.id) = ${roleOid}`;

function terminateSelect(serverVersion: number, waitMs: number, account: string): string {
  return terminateByOid(serverVersion, waitMs, `(SELECT oid FROM pg_roles WHERE rolname = ${account})`);
}

function terminateByOid(serverVersion: number, waitMs: number, oid: string): string {
  const call = serverVersion >= 140000 ? `pg_terminate_backend(pid, ${Math.trunc(waitMs)})` : 'pg_terminate_backend(pid)';
  return `SELECT count(*) FILTER (WHERE ${call})::int AS n FROM (${backendsOf(oid)}) b WHERE pid <> pg_backend_pid()`;
}

/**
 * terminateSessions for the role with this OID (RemovalState.oid), which
 * still finds its sessions after the role was dropped in the same
 * transaction; signalling them then needs pg_signal_backend (the dropped
 * role's privileges are gone), so without it a session makes this fail with
 * 42501 — which is how removeAccount's one-statement path notices one.
 */
export function terminateSessionsOfOidSql(oid: string, serverVersion: number, waitMs = 5000): string {
  if (!/^[0-9]+$/.test(oid)) throw new Error(`not an OID: ${JSON.stringify(oid)}`);
  return terminateByOid(serverVersion, waitMs, `${oid}::oid`);
}

export interface HolderRow {
  account: string;
  grant: string;
  managed: boolean;
  grantedByStint: boolean;
  /** Roles between the holder and the grant, nearest the holder first; empty for a direct membership. */
  via: string[];
}

// Every role holding one of the grants, directly or through other roles (a
// member of a member holds the privileges too). A direct membership granted
// by the connecting admin is Stint's (grantor = admin; PostgreSQL 16+ keeps
// one row per grantor, so Stint's and someone else's grant of the same role
// are told apart). Per holder, grant and grantor kind, the shortest path is
// kept. The admin itself and the marker role are not holders worth listing.
const holdersSql = `
  WITH RECURSIVE admin AS (SELECT oid FROM pg_roles WHERE rolname = current_user),
  chain(member, granted, by_stint, via, path, depth) AS (
    SELECT m.member, m.roleid, COALESCE(m.grantor = (SELECT oid FROM admin), false), ARRAY[]::name[], ARRAY[m.member], 1
      FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
     WHERE g.rolname = ANY($1::text[])
    UNION ALL
    SELECT m.member, c.granted, false, ARRAY[(SELECT rolname FROM pg_roles WHERE oid = c.member)] || c.via, c.path || m.member, c.depth + 1
      FROM chain c JOIN pg_auth_members m ON m.roleid = c.member
     WHERE c.depth < 16 AND NOT m.member = ANY(c.path)
  )
  SELECT DISTINCT ON (r.rolname, g.rolname, c.by_stint)
         r.rolname::text AS account, g.rolname::text AS grant, c.by_stint, c.via::text[] AS via, (${markedPredicate}) AS managed
    FROM chain c JOIN pg_roles r ON r.oid = c.member JOIN pg_roles g ON g.oid = c.granted
   WHERE r.rolname <> current_user AND r.rolname <> $MARKER
   ORDER BY r.rolname, g.rolname, c.by_stint, c.depth`;

export async function listHolders(c: Queryable, grants: string[], marker: string): Promise<HolderRow[]> {
  if (grants.length === 0) return [];
  const res = await c.query<{ account: string; grant: string; by_stint: boolean; via: string[]; managed: boolean }>(withMarker(holdersSql, 2), [
    grants,
    marker,
  ]);
  return res.rows.map((r) => ({ account: r.account, grant: r.grant, managed: r.managed, grantedByStint: r.by_stint, via: r.via }));
}
