// Envelope encryption of secrets at rest. Each value gets its own random data
// key (AES-256-GCM); the data key is wrapped with the master key (AES-256-GCM).
// The caller's `context` (e.g. `target:pg-main`) is bound as associated data
// to both layers, so a sealed value copied onto another record fails to open.
//
// Format: v1.<base64url(keyIv | wrappedKey | keyTag)>.<base64url(iv | ciphertext | tag)>

import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { randomBytes as publicRandomBytes } from '../core/random.js';
import type { Sealer } from '../core/ports.js';

export const masterKeyBytes = 32;
const ivBytes = 12;
const tagBytes = 16;
const version = 'v1';
const wrappedPartBytes = ivBytes + masterKeyBytes + tagBytes;

export interface Vault extends Sealer {
  /** Short fingerprint of the master key for diagnostics; reveals nothing usable about it. */
  readonly keyId: string;
}

/** Raised for anything that cannot be opened: wrong key, wrong context, tampering, or not a sealed value. */
export class VaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultError';
  }
}

export function createVault(masterKey: Buffer): Vault {
  if (!Buffer.isBuffer(masterKey) || masterKey.length !== masterKeyBytes) {
    throw new VaultError(`the master key must be exactly ${masterKeyBytes} bytes`);
  }
  // A KeyObject holds its own copy, so later changes to the caller's buffer do not matter.
  const master = createSecretKey(masterKey);
  const keyId = keyIdOf(masterKey);

  return {
    keyId,
    seal(plaintext: string, context: string): string {
      const dataKey = randomBytes(masterKeyBytes);
      try {
        const wrapped = encrypt(master, dataKey, aad('key', context));
        const body = encrypt(createSecretKey(dataKey), Buffer.from(plaintext, 'utf8'), aad('data', context));
        return `${version}.${wrapped.toString('base64url')}.${body.toString('base64url')}`;
      } finally {
        dataKey.fill(0);
      }
    },
    unseal(sealed: string, context: string): string {
      const parts = typeof sealed === 'string' ? sealed.split('.') : [];
      if (parts.length !== 3 || parts[0] !== version) {
        throw new VaultError(`not a sealed value (expected ${version}.<key>.<data>)`);
      }
      const wrapped = decodeStrict(parts[1]!);
      const body = decodeStrict(parts[2]!);
      if (!wrapped || wrapped.length !== wrappedPartBytes || !body || body.length < ivBytes + tagBytes) {
        throw new VaultError('not a sealed value (damaged encoding)');
      }
      const dataKey = decrypt(master, wrapped, aad('key', context));
      try {
        return decrypt(createSecretKey(dataKey), body, aad('data', context)).toString('utf8');
      } finally {
        dataKey.fill(0);
      }
    },
  };
}

/** SHA-256 over a domain-separating label and the key, first 8 bytes as hex. */
export function keyIdOf(masterKey: Buffer): string {
  return createHash('sha256').update('stint-vault-key-id\0').update(masterKey).digest('hex').slice(0, 16);
}

// Distinct AAD per layer so a wrapped key can never be accepted as a data part or vice versa.
function aad(layer: 'key' | 'data', context: string): Buffer {
  return Buffer.from(`stint-vault:${version}:${layer}:${context}`, 'utf8');
}

function encrypt(key: KeyObject, plaintext: Buffer, additional: Buffer): Buffer {
  // IVs are public (they are stored with the ciphertext); the data key is not, and comes straight from the CSPRNG.
  const iv = publicRandomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
  cipher.setAAD(additional);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, ct, cipher.getAuthTag()]);
}

function decrypt(key: KeyObject, packed: Buffer, additional: Buffer): Buffer {
  const iv = packed.subarray(0, ivBytes);
  const tag = packed.subarray(packed.length - tagBytes);
  const ct = packed.subarray(ivBytes, packed.length - tagBytes);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
    decipher.setAAD(additional);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    // GCM cannot tell these apart, and saying more would help an attacker, not an operator.
    throw new VaultError('sealed value cannot be opened: wrong master key, wrong context, or tampered');
  }
}

/**
 * Node's base64url decoder skips invalid characters and ignores trailing
 * bits, so two different strings can decode to the same bytes. Requiring the
 * canonical encoding makes every change to the sealed text detectable.
 */
function decodeStrict(text: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}
