// Config fields of an `ad` target (Active Directory or a Samba AD domain
// controller), shared by the module (config file validation) and the
// connector (kit/create.ts parses them with adSettingsSchema). README.md beside this
// file documents each field.

import { z } from 'zod';
import { isDN, parseDN } from '../ldap/dn.js';
import { checkWithinBaseDN, dnSetting, isLdapUrl } from '../ldap/settings.js';

const dn = (what: string) => dnSetting(what, 'OU=Stint,DC=corp,DC=example');

/** `ldaps://host[:port]` or `ldap://host[:port]` (StartTLS); nothing else. */
const dcUrl = z
  .string()
  .min(1)
  .max(2048)
  .refine(isLdapUrl, { message: 'must be ldaps://host[:port] or ldap://host[:port] (StartTLS is then required); no path, query or credentials' });

const dnsName = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const adSettingsShape = {
  /** Domain controllers, tried in order; the next one is used when one cannot be reached. */
  urls: z.array(dcUrl).min(1).max(16),
  /** PEM file of the CA(s) that sign the DCs' certificates (default: Node's bundled public CAs). */
  caFile: z.string().min(1).max(4096).optional(),
  /** The DNS name the DCs' certificates must carry, when the URLs name the DCs otherwise (an address). */
  tlsServerName: z.string().regex(dnsName, 'a DNS name such as dc1.corp.example').optional(),
  /** The domain's naming context, e.g. DC=corp,DC=example. */
  baseDN: dn('baseDN'),
  /** Kerberos realm; default: the DC= components of baseDN, upper case. */
  realm: z
    .string()
    .regex(dnsName, 'a realm such as CORP.EXAMPLE')
    .transform((s) => s.toUpperCase())
    .optional(),
  /** Where ephemeral accounts are created; the only place Stint ever deletes objects. */
  ephemeralOU: dn('ephemeralOU'),
  /** Where profile groups live (default: baseDN); grants outside it are refused. */
  groupBaseDN: dn('groupBaseDN').optional(),
  /** `description` every ephemeral account carries; only objects with it (and under ephemeralOU) are changed or deleted. */
  marker: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .default('stint-managed'),
  connectTimeoutMs: z.number().int().min(100).max(120_000).optional(),
  operationTimeoutMs: z.number().int().min(100).max(600_000).optional(),
  /** Bound admin connections kept open (default: from the broker's revoke concurrency). */
  poolSize: z.number().int().min(1).max(64).optional(),
};

export const adSettingsSchema = z.strictObject(adSettingsShape).superRefine((s, ctx) => {
  checkWithinBaseDN(s, ctx);
  if (!isDN(s.baseDN)) return;
  if (s.realm === undefined && realmOf(s.baseDN) === null) {
    ctx.addIssue({ code: 'custom', path: ['realm'], message: 'baseDN has no DC= components to derive the realm from: set realm' });
  }
});

export type AdSettings = z.infer<typeof adSettingsSchema>;

/** The realm a domain's naming context stands for (DC=corp,DC=example → CORP.EXAMPLE); null without DC= components. */
export function realmOf(baseDN: string): string | null {
  const parts = parseDN(baseDN)
    .filter((rdn) => rdn.length === 1 && rdn[0]!.type.toLowerCase() === 'dc')
    .map((rdn) => rdn[0]!.value);
  return parts.length === 0 ? null : parts.join('.').toUpperCase();
}
