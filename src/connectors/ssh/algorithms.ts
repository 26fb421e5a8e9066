// SSH transport algorithms Stint accepts, on both sides: what the SSH gateway
// may offer its clients (gateways.ssh.algorithms) and what Stint's own
// connections to a target offer (the connector's admin connection and the
// gateway's upstream login). The safe set is what ssh-audit neither fails nor
// warns on: curve25519 or 4096/8192-bit fixed DH groups with SHA-512, AEAD or
// CTR ciphers, encrypt-then-MAC SHA-2 MACs, compression only after
// authentication. ssh2 1.17 has no sntrup761 or ML-KEM key exchange.

import { createRequire } from 'node:module';
import type { Algorithms } from 'ssh2';

export type AlgorithmKind = 'kex' | 'cipher' | 'mac' | 'compress';
export type AlgorithmLists = Record<AlgorithmKind, string[]>;

/** ssh2's own lists of what it implements (with this Node's OpenSSL). */
const ssh2Constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<
  'SUPPORTED_KEX' | 'SUPPORTED_CIPHER' | 'SUPPORTED_MAC' | 'SUPPORTED_COMPRESSION',
  string[]
>;
export const ssh2Supported: Readonly<AlgorithmLists> = {
  kex: ssh2Constants.SUPPORTED_KEX,
  cipher: ssh2Constants.SUPPORTED_CIPHER,
  mac: ssh2Constants.SUPPORTED_MAC,
  compress: ssh2Constants.SUPPORTED_COMPRESSION,
};

/** Everything Stint will negotiate, best first. */
export const safeAlgorithms: Readonly<AlgorithmLists> = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'diffie-hellman-group16-sha512', 'diffie-hellman-group18-sha512'],
  cipher: ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com', 'aes256-ctr', 'aes192-ctr', 'aes128-ctr'],
  mac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  // zlib@openssh.com starts only after authentication; plain `zlib` compresses what an unauthenticated peer sends.
  compress: ['none', 'zlib@openssh.com'],
};

/** What the SSH gateway offers its clients unless configured otherwise: curve25519 and AEAD only. */
export const defaultGatewayAlgorithms: Readonly<AlgorithmLists> = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org'],
  cipher: ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com'],
  mac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  compress: ['none', 'zlib@openssh.com'],
};

/** Host key signatures Stint accepts from a target (its key is pinned by fingerprint as well). No ssh-rsa (SHA-1), no DSA. */
const targetHostKeyAlgorithms = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'] as const;

/**
 * ssh2 `algorithms` for Stint's connections to a target: the whole safe set, so
 * any OpenSSH since 6.5 (2014) agrees on curve25519 and an AEAD cipher, and
 * a target offering only weak ones is refused at the handshake.
 */
export function targetConnectionAlgorithms(): Algorithms {
  const supported = (k: AlgorithmKind) => safeAlgorithms[k].filter((a) => ssh2Supported[k].includes(a));
  return {
    kex: supported('kex'),
    cipher: supported('cipher'),
    hmac: supported('mac'),
    compress: ['none'],
    serverHostKey: [...targetHostKeyAlgorithms],
  } as Algorithms;
}

const kindWords: Record<AlgorithmKind, string> = { kex: 'key exchange', cipher: 'cipher', mac: 'MAC', compress: 'compression' };

function whyUnsafe(kind: AlgorithmKind, name: string): string {
  if (/nistp\d+/.test(name)) return 'it uses NIST elliptic curves';
  if (/(^|-)sha1(-|$|@)|hmac-sha1|md5|ripemd/.test(name)) return 'it relies on a weak hash (SHA-1/MD5)';
  if (/-cbc$|arcfour|3des|blowfish|cast128/.test(name)) return 'it is a weak cipher or mode (CBC, RC4, 3DES, Blowfish, CAST)';
  if (kind === 'mac' && !name.includes('-etm@')) return 'it is encrypt-and-MAC, not encrypt-then-MAC';
  if (kind === 'compress' && name === 'zlib') return 'it compresses before authentication (use zlib@openssh.com)';
  if (name === 'diffie-hellman-group14-sha256') return 'its 2048-bit group is below the 3072 bits required';
  return 'it is not in the safe set';
}

/**
 * Null when `name` may be configured for `kind`; otherwise why not, naming
 * the choices. Used by the config schema, so a bad entry is an error at load.
 */
export function checkAlgorithm(kind: AlgorithmKind, name: string): string | null {
  const safe = safeAlgorithms[kind];
  if (safe.includes(name) && ssh2Supported[kind].includes(name)) return null;
  const choices = safe.filter((a) => ssh2Supported[kind].includes(a)).join(', ');
  const reason = !ssh2Supported[kind].includes(name) ? 'the SSH library (ssh2) does not implement it here' : whyUnsafe(kind, name);
  return `is not a ${kindWords[kind]} algorithm the gateway offers (${reason}); choose from: ${choices}`;
}

/** The gateway's lists: the configured ones (already checked), else the defaults this build of ssh2 supports. */
export function gatewayAlgorithms(configured: Partial<AlgorithmLists> = {}): AlgorithmLists {
  const pick = (k: AlgorithmKind) => configured[k] ?? defaultGatewayAlgorithms[k].filter((a) => ssh2Supported[k].includes(a));
  return { kex: pick('kex'), cipher: pick('cipher'), mac: pick('mac'), compress: pick('compress') };
}
