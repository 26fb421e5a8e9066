// Pure parsing, checking and quoting for MariaDB/MySQL accounts and grants.
// No I/O here; the connector and module.ts both use it, so a grant that
// passes config validation is exactly one the connector accepts.
//
// Accounts. An account string is `user` or `user@host`; the LAST `@` splits
// (MariaDB refuses `@` in host names, so the split is unambiguous). Without
// `@` the host is the target's `accountHost` setting (default `%`).
//
// Grants (see README.md). One grant string is either
//   role       : a role name without whitespace, e.g. `app_read`
//   privilege  : `<PRIVILEGE> ON <db>.*` or `<PRIVILEGE> ON <db>.<table>`,
//                exactly one privilege, written in canonical form:
//                uppercase keywords, single spaces, identifiers bare when
//                they are [A-Za-z0-9_$]+ (and not all digits), else in
//                backticks with ` doubled.
// One privilege per string keeps the broker's reference counting exact: two
// grants overlap exactly when their strings are equal.

import { createHash } from 'node:crypto';
import mysql from 'mysql2';

/** MariaDB limits (10.6+; MySQL 8 allows 32-char user names, see README). */
export const MAX_USER_CHARS = 128;
export const MAX_HOST_CHARS = 255;
export const MAX_IDENT_CHARS = 64;

export interface Account {
  user: string;
  host: string;
}

/** Object-level privileges this connector grants, by level. Global privileges are never granted. */
export const DB_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'INDEX',
  'ALTER',
  'REFERENCES',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'EVENT',
  'TRIGGER',
  'DELETE HISTORY',
] as const;
export const TABLE_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'INDEX',
  'ALTER',
  'REFERENCES',
  'CREATE VIEW',
  'SHOW VIEW',
  'TRIGGER',
  'DELETE HISTORY',
] as const;
export type Privilege = (typeof DB_PRIVILEGES)[number];

export type Grant = { type: 'role'; role: string } | { type: 'privilege'; privilege: Privilege; db: string; table: string | null };

// Characters outside the Basic Multilingual Plane: MariaDB's grant tables are
// utf8mb3 and cannot store them.
const astral = /[\u{10000}-\u{10FFFF}]/u;

/** Why `text` cannot be a MariaDB user or role name, or null. */
function checkName(what: string, text: string, max: number): string | null {
  if (text.length === 0) return `${what} must not be empty`;
  if ([...text].length > max) return `${what} is longer than ${max} characters`;
  if (text.includes('\0')) return `${what} must not contain a NUL character`;
  if (astral.test(text)) return `${what} must not contain characters outside the Basic Multilingual Plane (MariaDB stores names as utf8mb3)`;
  // The grant tables are CHAR columns: `a ` and `a` would be the same account.
  if (/\s$/u.test(text)) return `${what} must not end with whitespace (MariaDB ignores trailing spaces in names)`;
  return null;
}

export function checkUserName(user: string): string | null {
  return checkName('the user name', user, MAX_USER_CHARS);
}

export function checkHost(host: string): string | null {
  if (host.length === 0) return "the host must not be empty (an empty host is MariaDB's role namespace); use % for any host";
  if (host.length > MAX_HOST_CHARS) return `the host is longer than ${MAX_HOST_CHARS} characters`;
  if (host.includes('@')) return 'the host must not contain @';
  // MariaDB stores hosts lowercased; a mixed-case host would not round-trip.
  if (host !== host.toLowerCase()) return 'the host must be lowercase (MariaDB stores hosts lowercased)';
  return checkName('the host', host, MAX_HOST_CHARS);
}

export function parseAccount(text: string, defaultHost: string): Account {
  const at = text.lastIndexOf('@');
  return at < 0 ? { user: text, host: defaultHost } : { user: text.slice(0, at), host: text.slice(at + 1) };
}

/** Why `text` is not a valid account string, or null. */
export function checkAccountText(text: string, defaultHost = '%'): string | null {
  const a = parseAccount(text, defaultHost);
  return checkUserName(a.user) ?? checkHost(a.host);
}

/** The account string listings report: bare user for the default host, unless the user itself contains `@`. */
export function formatAccount(a: Account, defaultHost: string): string {
  return a.host === defaultHost && !a.user.includes('@') ? a.user : `${a.user}@${a.host}`;
}

/** Backtick quoting by MariaDB's rules (` doubled), never split on dots. */
export const quoteId = (s: string): string => mysql.escapeId(s, true);

/** `user`@`host` for account clauses. */
export const quoteAccount = (a: Account): string => `${quoteId(a.user)}@${quoteId(a.host)}`;

/** A string literal, for values inside DDL that takes no placeholders (event bodies, comments). */
export const literal = (s: string): string => mysql.escape(s);

const bareIdent = /^[A-Za-z0-9_$]+$/;

function canonicalIdent(s: string): string {
  return bareIdent.test(s) && !/^[0-9]+$/.test(s) ? s : `\`${s.replace(/`/g, '``')}\``;
}

/** Why `name` is not a database or table name, or null. */
function checkIdent(what: string, name: string): string | null {
  if (name.length === 0) return `${what} must not be empty`;
  if ([...name].length > MAX_IDENT_CHARS) return `${what} is longer than ${MAX_IDENT_CHARS} characters`;
  if (name.includes('\0') || astral.test(name)) return `${what} contains a character MariaDB does not allow in names`;
  if (/\s$/u.test(name)) return `${what} must not end with whitespace`;
  return null;
}

/** Reads one identifier at `pos`: bare or backticked. Returns it and the position after it. */
function readIdent(s: string, pos: number): { name: string; end: number } | null {
  if (s[pos] === '`') {
    let out = '';
    let i = pos + 1;
    for (;;) {
      const j = s.indexOf('`', i);
      if (j < 0) return null;
      out += s.slice(i, j);
      if (s[j + 1] === '`') {
        out += '`';
        i = j + 2;
        continue;
      }
      return { name: out, end: j + 1 };
    }
  }
  const m = /^[A-Za-z0-9_$]+/.exec(s.slice(pos));
  return m ? { name: m[0], end: pos + m[0].length } : null;
}

const privilegeAlternatives = [...DB_PRIVILEGES].sort((a, b) => b.length - a.length);

/** Parses one profile grant. Returns the grant, or why the text is not one. */
export function parseGrant(text: string): Grant | { error: string } {
  if (!/\s/u.test(text)) {
    const why = checkName('a role name', text, MAX_USER_CHARS);
    if (why) return { error: why };
    if (/^(none|public)$/i.test(text)) return { error: `${text} is reserved in MariaDB and cannot be a role name` };
    return { type: 'role', role: text };
  }
  const upper = text.toUpperCase();
  const priv = privilegeAlternatives.find((p) => upper.startsWith(`${p} ON `));
  if (!priv) {
    return {
      error: `${JSON.stringify(text)} is neither a role name (no whitespace) nor "<PRIVILEGE> ON <db>.*" / "<PRIVILEGE> ON <db>.<table>" with one of: ${DB_PRIVILEGES.join(', ')}`,
    };
  }
  let pos = priv.length + 4;
  const db = readIdent(text, pos);
  if (!db || text[db.end] !== '.') return { error: `${JSON.stringify(text)}: expected <db>.* or <db>.<table> after ON` };
  pos = db.end + 1;
  let table: string | null;
  if (text[pos] === '*' && pos + 1 === text.length) {
    table = null;
  } else {
    const t = readIdent(text, pos);
    if (!t || t.end !== text.length)
      return { error: `${JSON.stringify(text)}: expected a table name or * after "${text.slice(0, pos)}", and nothing after it` };
    table = t.name;
  }
  const why = checkIdent('the database name', db.name) ?? (table === null ? null : checkIdent('the table name', table));
  if (why) return { error: `${JSON.stringify(text)}: ${why}` };
  if (table !== null && !(TABLE_PRIVILEGES as readonly string[]).includes(priv)) {
    return { error: `${JSON.stringify(text)}: ${priv} is a database-level privilege; grant it ON ${canonicalIdent(db.name)}.*` };
  }
  const grant: Grant = { type: 'privilege', privilege: priv as Privilege, db: db.name, table };
  const canonical = formatGrant(grant);
  if (canonical !== text)
    return { error: `write ${JSON.stringify(text)} as ${JSON.stringify(canonical)} (the canonical form, so equal permissions have equal grant strings)` };
  return grant;
}

export function checkGrant(text: string): string | null {
  const g = parseGrant(text);
  return 'error' in g ? g.error : null;
}

export function formatGrant(g: Grant): string {
  if (g.type === 'role') return g.role;
  return `${g.privilege} ON ${canonicalIdent(g.db)}.${g.table === null ? '*' : canonicalIdent(g.table)}`;
}

/**
 * In `GRANT ... ON db.*` MariaDB reads `_` and `%` in the database name as
 * wildcards; escaping them makes the grant name exactly that database.
 * (Table-level grants take the name literally.) Backslashes are escaped too.
 */
export function escapeDbPattern(db: string): string {
  return db.replace(/[\\_%]/g, (c) => `\\${c}`);
}

/** Inverse of escapeDbPattern for names read back from mysql.db; null when the row is a real wildcard pattern. */
export function unescapeDbPattern(stored: string): string | null {
  let out = '';
  for (let i = 0; i < stored.length; i++) {
    const c = stored[i]!;
    if (c === '\\' && i + 1 < stored.length) {
      out += stored[++i];
    } else if (c === '_' || c === '%') {
      return null;
    } else {
      out += c;
    }
  }
  return out;
}

/** The object clause of a privilege GRANT/REVOKE. */
export function grantObject(g: Extract<Grant, { type: 'privilege' }>): string {
  return g.table === null ? `${quoteId(escapeDbPattern(g.db))}.*` : `${quoteId(g.db)}.${quoteId(g.table)}`;
}

/** mysql_native_password stored form: `*` + upper hex SHA1(SHA1(password)). Computed here so the plaintext never reaches the server. */
export function nativePasswordHash(secret: string): string {
  const once = createHash('sha1').update(secret, 'utf8').digest();
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
}

const digest = (a: Account) => createHash('sha256').update(`${a.user}\0${a.host}`, 'utf8').digest('hex');

/** Name of the per-account expiry event (64-char identifier limit, so a hash of the account). */
export const eventName = (a: Account): string => `stint_expire_${digest(a).slice(0, 40)}`;

/** GET_LOCK name serialising operations on one account (64-char limit). */
export const lockName = (a: Account): string => `stint:${digest(a).slice(0, 48)}`;

/** A UTC `YYYY-MM-DD HH:MM:SS` for the event's AT clause, rounded down so access never outlives the request. */
export function utcDateTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

export function parseUtcDateTime(s: string): Date | null {
  const d = new Date(`${s.replace(' ', 'T')}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}
