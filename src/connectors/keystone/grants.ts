// A keystone profile grant is a role on a project: `ROLE@PROJECT` or
// `ROLE@PROJECT@DOMAIN` (the project's domain; default: the target's
// projectDomain). Each part is percent-decoded, so a name holding `@` or `%`
// is written `%40` / `%25`. A part of 32 lowercase hex digits is an ID (what
// Keystone generates); anything else is a name.

import { checkName } from './settings.js';

export interface Ref {
  /** Name, or ID when `isId`. */
  value: string;
  isId: boolean;
}

export interface GrantRef {
  role: Ref;
  project: Ref;
  /** The project's domain (a name, or an ID); null: the target's projectDomain. */
  domain: Ref | null;
}

const ID = /^[0-9a-f]{32}$/;

function decodePart(what: string, s: string): Ref {
  let v: string;
  try {
    v = decodeURIComponent(s);
  } catch {
    throw new Error(`${what} ${JSON.stringify(s)} has a malformed %-escape (write % as %25)`);
  }
  const why = checkName(what, v);
  if (why) throw new Error(why);
  return { value: v, isId: ID.test(v) };
}

/** Parses a grant; throws an Error saying what is wrong. */
export function parseGrant(g: string): GrantRef {
  const parts = g.split('@');
  if (parts.length < 2 || parts.length > 3) {
    throw new Error('must be ROLE@PROJECT or ROLE@PROJECT@DOMAIN, e.g. "member@app" (write a literal @ in a name as %40)');
  }
  return {
    role: decodePart('the role', parts[0]!),
    project: decodePart('the project', parts[1]!),
    domain: parts[2] === undefined ? null : decodePart('the domain', parts[2]),
  };
}

export function checkGrant(g: string): string | null {
  try {
    parseGrant(g);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const encodePart = (s: string) => s.replace(/%/g, '%25').replace(/@/g, '%40');

/** The grant string for a role on a project, as describeAccount and listManaged report it. */
export function formatGrant(role: string, project: string, domain: string | null): string {
  return `${encodePart(role)}@${encodePart(project)}${domain === null ? '' : `@${encodePart(domain)}`}`;
}

/** Roles a profile may give only with allowAdminRole: `admin` and the target's protectedRoles (case-insensitive, as Keystone compares role names). */
export function isProtectedRole(role: string, protectedRoles: readonly string[]): boolean {
  const r = role.toLowerCase();
  return r === 'admin' || protectedRoles.some((p) => p.toLowerCase() === r);
}
