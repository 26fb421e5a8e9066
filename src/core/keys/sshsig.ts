// OpenSSH signatures (`ssh-keygen -Y sign`, PROTOCOL.sshsig): how a person
// proves they hold the private half of a key they register. Verified with
// node:crypto alone, for the key types public-key.ts accepts.
//
//   armored:  -----BEGIN SSH SIGNATURE----- base64(blob) -----END SSH SIGNATURE-----
//   blob:     "SSHSIG" uint32(1) string(publickey) string(namespace) string(reserved)
//             string(hash_algorithm) string(signature)
//   signed:   "SSHSIG" string(namespace) string(reserved) string(hash_algorithm) string(H(message))

import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { ParsedPublicKey } from './public-key.js';

const MAGIC = Buffer.from('SSHSIG');

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  bytes(n: number): Buffer | null {
    if (this.at + n > this.b.length) return null;
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u32(): number | null {
    const b = this.bytes(4);
    return b ? b.readUInt32BE(0) : null;
  }
  string(): Buffer | null {
    const n = this.u32();
    return n === null ? null : this.bytes(n);
  }
  get done(): boolean {
    return this.at === this.b.length;
  }
}

const b64url = (b: Buffer) => b.toString('base64url');
/** An mpint as a fixed-size unsigned big-endian integer (ECDSA r and s). */
function fixed(m: Buffer, size: number): Buffer | null {
  let i = 0;
  while (i < m.length - 1 && m[i] === 0) i++;
  const v = m.subarray(i);
  if (v.length > size) return null;
  return Buffer.concat([Buffer.alloc(size - v.length), v]);
}

const curves: Record<string, { crv: string; size: number; hash: string }> = {
  'ecdsa-sha2-nistp256': { crv: 'P-256', size: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { crv: 'P-384', size: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { crv: 'P-521', size: 66, hash: 'sha512' },
};

function keyObject(key: ParsedPublicKey): KeyObject {
  const r = new Reader(key.blob);
  r.string();
  if (key.type === 'ssh-ed25519') return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(r.string()!) }, format: 'jwk' });
  if (key.type === 'ssh-rsa') {
    const e = r.string()!;
    const n = r.string()!;
    const strip = (m: Buffer) => (m[0] === 0 ? m.subarray(1) : m);
    return createPublicKey({ key: { kty: 'RSA', n: b64url(strip(n)), e: b64url(strip(e)) }, format: 'jwk' });
  }
  const spec = curves[key.type]!;
  r.string();
  const q = r.string()!;
  return createPublicKey({ key: { kty: 'EC', crv: spec.crv, x: b64url(q.subarray(1, 1 + spec.size)), y: b64url(q.subarray(1 + spec.size)) }, format: 'jwk' });
}

/**
 * Checks that `armored` is a signature by `key` over `message` in `namespace`.
 * Returns null when it is, else why not (safe to show).
 */
export function verifySshSignature(armored: string, key: ParsedPublicKey, namespace: string, message: Buffer | string): string | null {
  const m = /-----BEGIN SSH SIGNATURE-----([A-Za-z0-9+/=\s]+)-----END SSH SIGNATURE-----/.exec(armored.trim());
  if (!m || armored.length > 16_384) return 'not an SSH signature (ssh-keygen -Y sign writes one between BEGIN/END SSH SIGNATURE lines)';
  const blob = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  const r = new Reader(blob);
  if (!r.bytes(6)?.equals(MAGIC) || r.u32() !== 1) return 'not a version 1 SSH signature';
  const publicKey = r.string();
  const ns = r.string();
  const reserved = r.string();
  const hashAlg = r.string()?.toString('latin1');
  const sig = r.string();
  if (!publicKey || !ns || !reserved || !hashAlg || !sig || !r.done) return 'the SSH signature is malformed';
  if (!publicKey.equals(key.blob)) return 'the signature was made with another key than the one being registered';
  if (ns.toString('utf8') !== namespace)
    return `the signature is for namespace ${JSON.stringify(ns.toString('utf8').slice(0, 60))}, not ${namespace} (ssh-keygen -Y sign -n ${namespace})`;
  if (hashAlg !== 'sha512' && hashAlg !== 'sha256') return `unsupported signature hash ${JSON.stringify(hashAlg.slice(0, 20))}`;
  const signed = Buffer.concat([MAGIC, sshString(ns), sshString(reserved), sshString(hashAlg), sshString(createHash(hashAlg).update(message).digest())]);

  const sr = new Reader(sig);
  const alg = sr.string()?.toString('latin1');
  const raw = sr.string();
  if (!alg || !raw || !sr.done) return 'the SSH signature is malformed';
  let ok: boolean;
  try {
    const pub = keyObject(key);
    if (key.type === 'ssh-ed25519') {
      if (alg !== 'ssh-ed25519') return 'the signature algorithm does not match the key';
      ok = verify(null, signed, pub, raw);
    } else if (key.type === 'ssh-rsa') {
      // SHA-1 (ssh-rsa) signatures are refused, as OpenSSH does by default.
      const hash = alg === 'rsa-sha2-512' ? 'sha512' : alg === 'rsa-sha2-256' ? 'sha256' : null;
      if (!hash) return `RSA signatures must use rsa-sha2-256 or rsa-sha2-512, not ${JSON.stringify(alg.slice(0, 20))}`;
      ok = verify(hash, signed, pub, raw);
    } else {
      if (alg !== key.type) return 'the signature algorithm does not match the key';
      const spec = curves[key.type]!;
      const rs = new Reader(raw);
      const rr = rs.string();
      const ss = rs.string();
      const p1363 = rr && ss && rs.done ? [fixed(rr, spec.size), fixed(ss, spec.size)] : null;
      if (!p1363 || !p1363[0] || !p1363[1]) return 'the ECDSA signature is malformed';
      ok = verify(spec.hash, signed, { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.concat([p1363[0], p1363[1]]));
    }
  } catch {
    return 'the signature could not be checked';
  }
  return ok ? null : 'the signature does not verify: it was not made over this challenge with this key';
}
