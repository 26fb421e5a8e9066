// Client-side SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677), in the
// exact text form PostgreSQL stores in pg_authid.rolpassword. Sending the
// verifier instead of the plaintext in `CREATE ROLE ... PASSWORD '...'` means
// the secret never reaches the server: not its statement log, not
// pg_stat_statements, not a replica's WAL.

import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

// Async so that hashing (a few ms) does not stall the broker's event loop.
const pbkdf2Async = promisify(pbkdf2);

export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

export interface ScramKeys {
  saltedPassword: Buffer;
  clientKey: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

/**
 * The bytes the server hashes. PostgreSQL SASLprep-normalises the password
 * (RFC 4013) and falls back to the raw bytes when normalisation fails. For
 * printable ASCII (what the broker generates) SASLprep is the identity; for
 * other text we apply the mapping steps that change common input (non-ASCII
 * spaces → U+0020, "mapped to nothing" characters removed, NFKC) and fall back
 * to the raw text when the result holds prohibited characters, as the server does.
 */
export function saslPrep(password: string): string {
  if (/^[\x20-\x7e]*$/.test(password)) return password;
  // RFC 4013's "mapped to nothing" list includes combining marks (U+034F, variation selectors) on purpose.
  const mapped = password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ')
    // eslint-disable-next-line no-misleading-character-class
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, '')
    .normalize('NFKC');
  // Prohibited output (RFC 4013 §2.3, the common part): controls, private use,
  // non-characters, surrogates and the like. On any of them the server uses raw bytes.
  const prohibited = /[\u0000-\u001f\u007f-\u009f\u06dd\u070f\u180e\u200e\u200f\u2028-\u202e\u206a-\u206f\ue000-\uf8ff\ufff9-\ufffd\ud800-\udfff]/;
  if (mapped.length === 0 || prohibited.test(mapped)) return password;
  return mapped;
}

export async function scramKeys(password: string, salt: Buffer, iterations: number): Promise<ScramKeys> {
  const saltedPassword = await pbkdf2Async(Buffer.from(saslPrep(password), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(saltedPassword, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = hmac(saltedPassword, 'Server Key');
  return { saltedPassword, clientKey, storedKey, serverKey };
}

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, all base64. */
export async function scramSha256Verifier(password: string, salt: Buffer = randomBytes(SALT_BYTES), iterations = SCRAM_ITERATIONS): Promise<string> {
  const { storedKey, serverKey } = await scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
