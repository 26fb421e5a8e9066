// How the broker's `secret` becomes an SSH login. Linux accounts made by the
// ssh connector log in with a public key only (never a password), and the
// host only ever receives a public key:
//
// - a secret that is an OpenSSH public key line (`ssh-ed25519 AAAA...`, the
//   person's registered key) is installed as it is;
// - a secret that is a private key (`-----BEGIN OPENSSH PRIVATE KEY-----`, a
//   key pair the broker generated and shows once) has its public half installed;
// - any other secret (a random string from the broker) is the seed of an
//   Ed25519 key pair: HKDF-SHA256(secret) -> 32-byte seed. The connector
//   installs the public key; whoever holds the secret derives the same private
//   key with `privateKeyFromSecret` (the CLI shows it once, the gateway uses it).
//   The secret must be high-entropy, as broker-generated secrets are: the
//   public key is readable on the host.

import { createHash, createPrivateKey, createPublicKey, hkdfSync } from 'node:crypto';
import ssh2 from 'ssh2';

const PUBLIC_KEY_LINE =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,3})(?: [^\n\r]*)?$/;

const HKDF_SALT = 'stint-ssh-key-v1';
const HKDF_INFO = 'ed25519 seed';
// PKCS#8 prefix of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function seedOf(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), HKDF_SALT, HKDF_INFO, 32));
}

function ed25519FromSeed(seed: Buffer): { seed: Buffer; pub: Buffer } {
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return { seed, pub: Buffer.from(spki.subarray(spki.length - 32)) };
}

export type SecretKind = 'public-key' | 'private-key' | 'derived';

export function secretKind(secret: string): SecretKind {
  if (PUBLIC_KEY_LINE.test(secret.trim())) return 'public-key';
  if (/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(secret.trim())) return 'private-key';
  return 'derived';
}

/**
 * The `authorized_keys` line (type and base64, no comment) that `secret`
 * logs in with, or an Error saying why the secret is not usable. The error
 * never contains the secret.
 */
export function authorizedKeyFor(secret: string): string | Error {
  const kind = secretKind(secret);
  if (kind === 'derived') {
    if (secret.length < 16) return new Error('the secret is too short to derive an SSH key from (16 characters at least)');
    const { pub } = ed25519FromSeed(seedOf(secret));
    return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]).toString('base64')}`;
  }
  const parsed = ssh2.utils.parseKey(secret.trim());
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    return new Error(
      kind === 'public-key'
        ? 'the secret looks like an SSH public key but does not parse'
        : 'the secret looks like a private key but does not parse (encrypted keys are not supported)',
    );
  }
  if (kind === 'private-key' && !key.isPrivateKey()) return new Error('the secret is not a private key');
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

/**
 * The OpenSSH private key (unencrypted `openssh-key-v1`, what `ssh-keygen`
 * writes) derived from a `derived`-kind secret. Deterministic: the same
 * secret always gives the same file, usable with `ssh -i`.
 */
export function privateKeyFromSecret(secret: string, comment = 'stint'): string {
  if (secretKind(secret) === 'private-key') return secret;
  if (secretKind(secret) === 'public-key') throw new Error('the secret is a public key; its private key is held by the person');
  const { seed, pub } = ed25519FromSeed(seedOf(secret));
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  // The two "check" words only detect a wrong passphrase; derived from the
  // seed so the output is deterministic.
  const check = createHash('sha256').update(seed).digest().subarray(0, 4);
  let priv = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const blob = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(pubBlob),
    sshString(priv),
  ]);
  const b64 = blob
    .toString('base64')
    .replace(/(.{70})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** `SHA256:<base64, unpadded>`, as `ssh-keygen -lf` prints a host key fingerprint. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}
