// OpenSSH public key lines, as people paste them from ~/.ssh/id_*.pub:
// `ssh-ed25519 AAAA… comment`. Parsed strictly, because a registered key is
// a login: the blob must be well formed for its type, RSA keys must have at
// least 2048 bits, and anything else on the line (authorized_keys options,
// a second key, a private key) is refused with a message saying what it is.

import { ECDH, createHash } from 'node:crypto';
import { unsafeTextChar } from '../text.js';

export type PublicKeyType = 'ssh-ed25519' | 'ecdsa-sha2-nistp256' | 'ecdsa-sha2-nistp384' | 'ecdsa-sha2-nistp521' | 'ssh-rsa';

export interface ParsedPublicKey {
  type: PublicKeyType;
  /** The wire-format key blob. */
  blob: Buffer;
  /** `type base64`: the line without its comment. */
  line: string;
  comment: string | null;
  /** `SHA256:…` (unpadded base64), as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  bits: number;
}

export const minRsaBits = 2048;
const maxLineLength = 16 * 1024;
const maxCommentLength = 200;

/** Point sizes of uncompressed ECDSA public keys (0x04 ‖ X ‖ Y) per curve. */
const ecdsaCurves: Record<string, { curve: string; pointBytes: number; bits: number; openssl: string }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', pointBytes: 65, bits: 256, openssl: 'prime256v1' },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', pointBytes: 97, bits: 384, openssl: 'secp384r1' },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', pointBytes: 133, bits: 521, openssl: 'secp521r1' },
};

/**
 * A second key after the first: a key type word followed by base64 whose blob
 * names that type. (A comment may mention a key type, as in "was ssh-rsa".)
 */
function holdsAnotherKey(words: string[]): boolean {
  return words.some((w, i) => {
    const next = words[i + 1];
    if (!/^[a-z0-9@.-]+$/.test(w) || next === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(next)) return false;
    const blob = Buffer.from(next, 'base64');
    return blob.length > 4 && blob.readUInt32BE(0) === w.length && blob.subarray(4, 4 + w.length).toString('latin1') === w;
  });
}

/** OpenSSL's check that the point lies on its curve (a point that does not is no key at all). */
function onCurve(q: Buffer, opensslCurve: string): boolean {
  try {
    ECDH.convertKey(q, opensslCurve, undefined, undefined, 'compressed');
    return true;
  } catch {
    return false;
  }
}

export function fingerprintOfBlob(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Reads SSH wire-format strings (uint32 length, bytes) from a blob. */
class BlobReader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  string(): Buffer | null {
    if (this.at + 4 > this.b.length) return null;
    const n = this.b.readUInt32BE(this.at);
    if (this.at + 4 + n > this.b.length) return null;
    const out = this.b.subarray(this.at + 4, this.at + 4 + n);
    this.at += 4 + n;
    return out;
  }
  get done(): boolean {
    return this.at === this.b.length;
  }
}

const isEcdsa = (t: string) => Object.hasOwn(ecdsaCurves, t);

/**
 * A positive SSH mpint in its one minimal encoding (RFC 4251): no leading
 * zero byte unless the next has its high bit set, and not negative. Another
 * encoding of the same key would get another fingerprint and slip past
 * "one key, one person".
 */
function canonicalPositive(m: Buffer): boolean {
  if (m.length === 0) return false;
  if (m[0]! & 0x80) return false;
  return !(m[0] === 0 && (m.length === 1 || !(m[1]! & 0x80)));
}

/** Bit length of an SSH mpint (big-endian, two's complement, positive here). */
function mpintBits(m: Buffer): number {
  let i = 0;
  while (i < m.length && m[i] === 0) i++;
  if (i === m.length) return 0;
  return (m.length - i - 1) * 8 + (32 - Math.clz32(m[i]!));
}

/**
 * Parses one OpenSSH public key line. Returns the key, or an Error whose
 * message says precisely what is wrong (safe to show: a public key is public).
 */
export function parsePublicKeyLine(input: string): ParsedPublicKey | Error {
  const text = input.replace(/^\uFEFF/, '').trim();
  if (text.length === 0) return new Error('the public key is empty');
  if (text.length > maxLineLength) return new Error(`the public key is longer than ${maxLineLength} characters; give one key line (the .pub file)`);
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    return new Error('this is a private key; register the public key instead (the .pub file beside it) and keep the private key to yourself');
  }
  if (/^-----BEGIN SSH2 PUBLIC KEY-----/.test(text))
    return new Error('this is an RFC 4716 (SSH2) public key; convert it with ssh-keygen -i -f FILE and register the result');
  if (/[\r\n]/.test(text)) return new Error('give exactly one key line; this text has several lines');
  if (/[\0]/.test(text)) return new Error('the public key contains a NUL character');

  const parts = text.split(/[ \t]+/);
  const type = parts[0]!;
  if (type.startsWith('sk-'))
    return new Error(`${type} (FIDO security key) keys are not supported by the SSH gateway yet; register an ed25519, ecdsa or RSA key`);
  if (type === 'ssh-dss') return new Error('ssh-dss (DSA) keys are insecure and not accepted; register an ed25519, ecdsa or RSA (2048 bits or more) key');
  if (type.endsWith('-cert-v01@openssh.com')) return new Error('SSH certificates are not supported; register the plain public key');
  if (!(type === 'ssh-ed25519' || type === 'ssh-rsa' || isEcdsa(type))) {
    // An authorized_keys line may start with options: command="…",from="…" ssh-ed25519 AAAA…
    if (parts.slice(1).some((p) => p === 'ssh-ed25519' || p === 'ssh-rsa' || isEcdsa(p)) || /^[a-z-]+[=,]/i.test(type)) {
      return new Error('the line starts with authorized_keys options; give just the key (type, base64, optional comment) — Stint decides what the key may do');
    }
    return new Error(`unknown key type ${JSON.stringify(type.slice(0, 40))}; expected ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa`);
  }
  const b64 = parts[1];
  if (b64 === undefined) return new Error(`the line has the key type ${type} but no key after it`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return new Error('the key is not valid base64');
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64') !== b64) return new Error('the key is not valid base64');

  const r = new BlobReader(blob);
  const inner = r.string();
  if (!inner || inner.toString('latin1') !== type)
    return new Error(`the key data does not hold a ${type} key (its type field says ${JSON.stringify(inner?.toString('latin1').slice(0, 40) ?? 'nothing')})`);
  let bits: number;
  if (type === 'ssh-ed25519') {
    const k = r.string();
    if (!k || k.length !== 32) return new Error('the ssh-ed25519 key is not 32 bytes long');
    bits = 256;
  } else if (type === 'ssh-rsa') {
    const e = r.string();
    const n = r.string();
    if (!e || !n || !canonicalPositive(e) || !canonicalPositive(n) || mpintBits(e) < 2 || (e[e.length - 1]! & 1) === 0) {
      return new Error('the ssh-rsa key is malformed (bad public exponent or modulus, or not in its minimal encoding)');
    }
    bits = mpintBits(n);
    if (bits < minRsaBits) return new Error(`the RSA key has ${bits} bits; at least ${minRsaBits} are required`);
    if (bits > 16384) return new Error(`the RSA key has ${bits} bits; at most 16384 are accepted`);
  } else {
    const spec = ecdsaCurves[type]!;
    const curve = r.string();
    const q = r.string();
    if (!curve || curve.toString('latin1') !== spec.curve) return new Error(`the ${type} key names the wrong curve`);
    if (!q || q.length !== spec.pointBytes || q[0] !== 0x04) return new Error(`the ${type} key's point is malformed`);
    if (!onCurve(q, spec.openssl)) return new Error(`the ${type} key's point is not on its curve`);
    bits = spec.bits;
  }
  if (!r.done) return new Error(`the ${type} key has extra bytes after the key`);

  if (holdsAnotherKey(parts.slice(2))) return new Error('the line holds more than one key; register one key per line');
  const comment = parts.slice(2).join(' ').trim() || null;
  if (comment !== null && comment.length > maxCommentLength) return new Error(`the key's comment is longer than ${maxCommentLength} characters`);
  if (comment !== null && unsafeTextChar.test(comment)) return new Error("the key's comment contains control or invisible characters (or a lone surrogate)");
  return { type: type as PublicKeyType, blob, line: `${type} ${b64}`, comment, fingerprint: fingerprintOfBlob(blob), bits };
}
