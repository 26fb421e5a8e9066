// Config fields of an `ldap` target, shared by the module (config file
// validation) and the connector (which validates again at construction).

import { z } from 'zod';
import { isDN, isWithin, parseDN } from './dn.js';

/** A DN setting; `example` shows the shape in the error. Shared with the `ad` kind. */
export const dnSetting = (what: string, example = 'ou=stint,dc=example,dc=com') =>
  z
    .string()
    .min(1)
    .max(1024)
    .refine(isDN, { message: `${what} must be a valid DN (RFC 4514), e.g. "${example}"` });
const dn = (what: string) => dnSetting(what);

/** True for `ldap://host[:port]` or `ldaps://host[:port]`: no path, query or credentials. */
export function isLdapUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (
      (u.protocol === 'ldap:' || u.protocol === 'ldaps:') &&
      u.hostname !== '' &&
      u.username === '' &&
      u.password === '' &&
      (u.pathname === '' || u.pathname === '/') &&
      u.search === '' &&
      u.hash === ''
    );
  } catch {
    return false;
  }
}

const ldapUrl = z.string().min(1).max(2048).refine(isLdapUrl, { message: 'must be ldap://host[:port] or ldaps://host[:port] (no path, query or credentials)' });

export const ldapSettingsShape = {
  url: ldapUrl,
  /** Root of everything Stint looks at. */
  baseDN: dn('baseDN'),
  /** Where ephemeral accounts are created; the only place Stint ever deletes entries. */
  ephemeralOU: dn('ephemeralOU'),
  /** Where profile groups live (default: baseDN); membership searches and grants are limited to it. */
  groupBaseDN: dn('groupBaseDN').optional(),
  /** `description` value every ephemeral account carries; only entries with it are listed or removed. */
  marker: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .default('stint-managed'),
  /** `ppolicy`: set pwdEndTime (slapo-ppolicy enforces it at bind); `none`: the broker alone is the clock. */
  expiry: z.enum(['ppolicy', 'none']).default('ppolicy'),
  /** Written as pwdPolicySubentry on ephemeral accounts, so a policy applies even without a default one. */
  passwordPolicyDN: dn('passwordPolicyDN').optional(),
  connectTimeoutMs: z.number().int().min(100).max(120_000).optional(),
  operationTimeoutMs: z.number().int().min(100).max(600_000).optional(),
};

/**
 * The cross-check of a directory kind's settings (ldap, ad): ephemeralOU and
 * groupBaseDN lie within baseDN. Refinements before it do not stop it, so a
 * DN that already failed is skipped.
 */
export function checkWithinBaseDN(s: { baseDN: string; ephemeralOU: string; groupBaseDN?: string | undefined }, ctx: z.RefinementCtx): void {
  if (!isDN(s.baseDN)) return;
  const base = parseDN(s.baseDN);
  for (const key of ['ephemeralOU', 'groupBaseDN'] as const) {
    const v = s[key];
    if (v !== undefined && isDN(v) && !isWithin(parseDN(v), base)) {
      ctx.addIssue({ code: 'custom', path: [key], message: `must be within baseDN ${JSON.stringify(s.baseDN)}` });
    }
  }
}

export const ldapSettingsSchema = z.strictObject(ldapSettingsShape).superRefine(checkWithinBaseDN);

export type LdapSettings = z.infer<typeof ldapSettingsSchema>;
