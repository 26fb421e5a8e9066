// Attribute values the connector writes: the password verifier and the
// GeneralizedTime of the expiry.

import { createHash, randomBytes } from 'node:crypto';

/**
 * `{SSHA}` verifier (salted SHA-1, RFC 2307 style, as slapd checks it
 * natively without any module): base64(SHA1(secret || salt) || salt).
 * The broker's secrets are 256 random bits, so the speed of SHA-1 does not
 * make the stored verifier guessable; its point is that the plaintext never
 * reaches the directory, its logs or its replicas.
 */
export function sshaVerifier(secret: string, salt: Buffer = randomBytes(8)): string {
  const digest = createHash('sha1').update(Buffer.from(secret, 'utf8')).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** Checks a secret against an `{SSHA}` verifier (tests; the server does this for binds). */
export function checkSsha(secret: string, verifier: string): boolean {
  if (!verifier.startsWith('{SSHA}')) return false;
  const raw = Buffer.from(verifier.slice(6), 'base64');
  if (raw.length <= 20) return false;
  return sshaVerifier(secret, raw.subarray(20)) === verifier;
}

/**
 * GeneralizedTime in UTC, whole seconds (`YYYYMMDDHHMMSSZ`). Rounded up, so
 * the directory never cuts access before the broker's own clock does; the
 * broker remains the clock and removes the account on time.
 */
export function toGeneralizedTime(at: Date): string {
  const ms = at.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid date');
  const d = new Date(Math.ceil(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  if (y < 1970 || y > 9999) throw new RangeError('year outside 1970-9999');
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(y, 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

/**
 * Parses the GeneralizedTime forms slapd returns (`YYYYMMDDHHMMSS[.fff]Z`,
 * optionally with a `+hhmm`/`-hhmm` offset instead of Z); null when absent or
 * not understood.
 */
export function parseGeneralizedTime(s: string | undefined): Date | null {
  if (!s) return null;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,](\d{1,6}))?(Z|[+-]\d{4})$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, sec = '00', frac = '', zone] = m;
  const ms = Math.round(Number(`0.${frac || '0'}`) * 1000);
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    t -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
  }
  return Number.isNaN(t) ? null : new Date(t);
}
