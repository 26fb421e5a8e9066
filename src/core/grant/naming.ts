// Names and secrets for ephemeral accounts are chosen by the broker, never by
// a connector or a person.

import { randomBytes } from 'node:crypto';
import { randomId } from '../ids.js';

/** Longest identifier every supported kind accepts (PostgreSQL: 63 bytes). */
const maxAccountLength = 63;

/**
 * `stint_<user>_<6 random>`: readable in target-side listings, unique per
 * grant, and a plain lowercase identifier (a-z, 0-9, _) for any user name,
 * however long or odd. Non-ASCII and punctuation collapse to `_`.
 */
export function ephemeralAccountName(user: string, prefix = 'stint_'): string {
  const suffix = `_${randomId(6)}`;
  const room = maxAccountLength - prefix.length - suffix.length;
  const clean =
    user
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, Math.min(room, 24)) || 'user';
  return `${prefix}${clean}${suffix}`;
}

/** 256 bits from the CSPRNG, URL-safe, no quoting hazards. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}
