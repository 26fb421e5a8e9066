import { randomBytes } from './random.js';

const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Random lowercase alphanumeric string (unbiased; 36 symbols). */
export function randomId(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 252 && out.length < length) out += alphabet[b % 36];
    }
  }
  return out;
}

export const newRequestId = () => `req_${randomId(12)}`;
export const newGrantId = () => `gr_${randomId(12)}`;
export const newTokenId = () => `tok_${randomId(12)}`;
export const newSshKeyId = () => `key_${randomId(12)}`;
