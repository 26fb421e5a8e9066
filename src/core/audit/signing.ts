// Signed checkpoints of the audit chain. The plain chain (chain.ts) proves
// that nothing was changed by someone who could not recompute hashes; anyone
// who can write the store can rebuild it end to end. A checkpoint signs the
// chain head with the broker's Ed25519 key, so a rebuilt chain no longer
// matches what was signed. Each checkpoint also signs the digest of the
// event hashes since the previous one (its window), which lets a verifier
// name the first event that differs from what was signed.
//
// The signed message is plain text so that `openssl pkeyutl -verify -rawin`
// checks it without Stint (docs/operations.md, "Signed checkpoints").

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

export const checkpointFormat = 'stint-audit-checkpoint/1';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

/** A checkpoint as a file holds it (`stint audit checkpoint > cp.json`). */
export const signedCheckpointSchema = z
  .object({
    format: z.literal(checkpointFormat),
    seq: z.number().int().min(1),
    hash: hex64,
    /** The previous checkpoint's seq (0 for the first): the window is the events after it, up to seq. */
    fromSeq: z.number().int().min(0),
    /** SHA-256 of the window's event hashes, each followed by a newline, in order. */
    window: hex64,
    at: z.string().datetime({ offset: false }),
    keyId: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits'),
    signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be a base64 Ed25519 signature'),
  })
  .strict()
  .refine((c) => c.fromSeq < c.seq, { message: 'fromSeq must be below seq', path: ['fromSeq'] });

export type SignedCheckpoint = z.infer<typeof signedCheckpointSchema>;

/** A checkpoint with the event hashes of its window (what the broker stores). */
export interface StoredCheckpoint extends SignedCheckpoint {
  windowHashes: string[];
}

export type CheckpointFields = Omit<SignedCheckpoint, 'format' | 'keyId' | 'signature'>;

/** The exact bytes that are signed. */
export function checkpointMessage(c: CheckpointFields): string {
  return `${checkpointFormat}\nseq=${c.seq}\nhash=${c.hash}\nfrom=${c.fromSeq}\nwindow=${c.window}\nat=${c.at}\n`;
}

/** `printf '%s\n' HASH… | sha256sum`. */
export function windowDigest(hashes: readonly string[]): string {
  const h = createHash('sha256');
  for (const x of hashes) h.update(`${x}\n`);
  return h.digest('hex');
}

/** First 16 hex digits of the SHA-256 of the public key's DER (SubjectPublicKeyInfo). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export function generateSigningKey(): { privatePem: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicPem: string;
  keyId: string;
}

export function signingKeyFromPem(privatePem: string): SigningKey {
  const privateKey = createPrivateKey(privatePem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`the audit signing key must be Ed25519, not ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId: keyIdOf(publicKey) };
}

export function signCheckpoint(fields: CheckpointFields, key: SigningKey): SignedCheckpoint {
  const signature = sign(null, Buffer.from(checkpointMessage(fields)), key.privateKey).toString('base64');
  return { format: checkpointFormat, ...fields, keyId: key.keyId, signature };
}

/** Reads a PEM public key given to a verifier; a clear error when it is not an Ed25519 public key. */
export function parsePublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error('the public key is not a PEM public key (-----BEGIN PUBLIC KEY-----), as `stint audit public-key` prints it');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the public key must be Ed25519, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** True when the checkpoint was signed by this key. */
export function checkpointSignedBy(c: SignedCheckpoint, publicKey: KeyObject): boolean {
  if (c.keyId !== keyIdOf(publicKey)) return false;
  return verify(null, Buffer.from(checkpointMessage(c)), publicKey, Buffer.from(c.signature, 'base64'));
}

/** Parses a checkpoint file's text; throws with what is wrong. */
export function parseSignedCheckpoint(text: string): SignedCheckpoint {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('the checkpoint file is not JSON (write it with: stint audit checkpoint > checkpoint.json)');
  }
  const r = signedCheckpointSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`the checkpoint file is not a Stint checkpoint: ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  }
  return r.data;
}
