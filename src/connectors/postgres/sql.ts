// Quoting and the advisory-lock statements the PostgreSQL connector's
// operations share. Identifiers and literals always go through the driver's
// escaping; nothing else is pasted into SQL.

import pg from 'pg';

export const ident = (s: string) => pg.escapeIdentifier(s);
export const literal = (s: string) => pg.escapeLiteral(s);

// Namespace for advisory locks that serialise operations on one role name.
export const LOCK_NAMESPACE = 'stint.role';

/** `SELECT <fn>(ns, name)` with both keys as literals (for multi-statement simple queries, which take no parameters). */
export const lockSql = (fn: 'pg_advisory_lock' | 'pg_advisory_xact_lock', account: string) =>
  `SELECT ${fn}(hashtext(${literal(LOCK_NAMESPACE)}), hashtext(${literal(account)}))`;
export const unlockSql = (account: string) => `SELECT pg_advisory_unlock(hashtext(${literal(LOCK_NAMESPACE)}), hashtext(${literal(account)}))`;
