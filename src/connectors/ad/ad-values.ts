// Attribute values as Active Directory stores them: the password attribute,
// FILETIME expiries, binary SIDs, userAccountControl flags and the
// sAMAccountName of an ephemeral account.

import { createHash } from 'node:crypto';
import { escapeDNValue, parseDN, type Rdn } from '../ldap/dn.js';

/** userAccountControl flags (MS-ADTS 2.2.16). */
export const UAC = {
  ACCOUNTDISABLE: 0x2,
  NORMAL_ACCOUNT: 0x200,
} as const;

/**
 * `unicodePwd` takes the password in double quotes, encoded UTF-16LE (MS-ADTS
 * 3.1.1.3.1.5.2). The DC derives its keys and never returns the attribute; it
 * is accepted only over an encrypted connection.
 */
export function unicodePwd(secret: string): Buffer {
  return Buffer.from(`"${secret}"`, 'utf16le');
}

// FILETIME: 100-nanosecond intervals since 1601-01-01 UTC.
const EPOCH_DIFF_MS = 11_644_473_600_000n;
/** accountExpires values meaning "never" (0 and the largest signed 64-bit integer). */
const NEVER = new Set(['0', '9223372036854775807']);

/** `accountExpires` for a date (exact to the millisecond). */
export function toFileTime(at: Date): string {
  const ms = at.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid date');
  const ft = (BigInt(ms) + EPOCH_DIFF_MS) * 10_000n;
  if (ft <= 0n) throw new RangeError('before 1601');
  return ft.toString();
}

/** The date an `accountExpires` value stands for; null for "never" or an unreadable value. */
export function fromFileTime(value: string | undefined): Date | null {
  if (value === undefined || !/^\d{1,19}$/.test(value) || NEVER.has(value)) return null;
  return new Date(Number(BigInt(value) / 10_000n - EPOCH_DIFF_MS));
}

/** The string form (S-1-5-21-…) of a binary objectSid (MS-DTYP 2.4.2.2). */
export function sidToString(sid: Buffer): string {
  if (sid.length < 8) throw new RangeError('a SID is at least 8 bytes');
  const revision = sid[0]!;
  const count = sid[1]!;
  if (sid.length !== 8 + 4 * count) throw new RangeError('SID length does not match its sub-authority count');
  const authority = sid.readUIntBE(2, 6);
  const subs = Array.from({ length: count }, (_, i) => sid.readUInt32LE(8 + 4 * i));
  return ['S', revision, authority, ...subs].join('-');
}

/** Well-known privileged groups, by SID (names are localised and can be renamed; SIDs cannot). */
export function builtinPrivilegedGroup(sid: string, domainSid: string): string | null {
  const builtin: Record<string, string> = { 'S-1-5-32-544': 'Administrators', 'S-1-5-32-548': 'Account Operators' };
  if (builtin[sid]) return builtin[sid]!;
  const rid = sid.startsWith(`${domainSid}-`) ? sid.slice(domainSid.length + 1) : null;
  const domain: Record<string, string> = { '512': 'Domain Admins', '518': 'Schema Admins', '519': 'Enterprise Admins' };
  // Enterprise and Schema Admins live in the forest root domain; in a child domain their SIDs carry the root's prefix.
  if (rid && domain[rid]) return domain[rid]!;
  if (/^S-1-5-21-\d+-\d+-\d+-(518|519)$/.test(sid)) return domain[sid.slice(sid.lastIndexOf('-') + 1)]!;
  return null;
}

// Characters sAMAccountName may not contain (MS-ADTS 3.1.1.5.2.7 / "user logon name (pre-Windows 2000)").
const SAM_FORBIDDEN = /["/\\[\]:;|=,+*?<>@\x00-\x1f]/;

/** True when `s` can be used as a sAMAccountName as it is. */
export function isPlainSam(s: string): boolean {
  return s.length >= 1 && s.length <= 20 && !SAM_FORBIDDEN.test(s) && !s.endsWith('.') && s.trim() === s && /^[\x21-\x7e]+$/.test(s);
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * The sAMAccountName of an ephemeral account: the name itself when it is a
 * plain one of at most 20 characters (AD's limit), else `stint-` and 14
 * characters of base32(SHA-256(name)), so the same name always gets the same
 * one and a broker name such as `stint_alice_x1y2z3` (longer than 20) fits.
 * People log in with the userPrincipalName `<name>@<REALM>`, not this.
 */
export function samFor(account: string): string {
  if (isPlainSam(account)) return account;
  const digest = createHash('sha256').update(account, 'utf8').digest();
  let bits = 0;
  let acc = 0;
  let out = '';
  for (const byte of digest) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 14) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
    if (out.length >= 14) break;
  }
  return `stint-${out}`;
}

/**
 * A DN as Active Directory and Samba parse it: RFC 4514 escaping plus `=`
 * escaped too (RFC 4514 allows escaping it; Samba's DN parser refuses a
 * value with a bare `=`, so `CN=\\,CN=admin` must go as `CN=\\,CN\\=admin`).
 */
export function adFormatDN(rdns: readonly Rdn[]): string {
  return rdns.map((rdn) => rdn.map((a) => `${a.type}=${escapeDNValue(a.value).replace(/=/g, '\\=')}`).join('+')).join(',');
}

/** Any DN string (from config or from the DC) in the form sent to the DC. */
export const adDN = (dn: string): string => adFormatDN(parseDN(dn));

/** `CN=<value>,<parent>` with the value escaped for AD. */
export function adChildDN(type: string, value: string, parent: string): string {
  return adFormatDN([[{ type, value }], ...parseDN(parent)]);
}
