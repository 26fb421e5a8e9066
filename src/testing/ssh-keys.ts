// Ed25519 key pairs for tests, in OpenSSH formats (`ssh-ed25519 AAAA…` and
// an unencrypted openssh-key-v1 private key that ssh -i, sshd and ssh2 read).
//
// Not ssh2.utils.generateKeyPairSync: it writes the public key as an mpint,
// so one key in 256 (a leading zero byte) comes out 31 bytes long — a line
// OpenSSH and Stint both refuse, and a test that fails once in a while.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorizedKeyFor, privateKeyFromSecret } from '../connectors/ssh/keys.js';

export interface TestKeyPair {
  /** `ssh-ed25519 BASE64[ comment]`. */
  public: string;
  private: string;
}

export function testKeyPair(comment?: string): TestKeyPair {
  const secret = randomBytes(32).toString('base64url');
  const line = authorizedKeyFor(secret);
  if (line instanceof Error) throw line;
  return { public: comment ? `${line} ${comment}` : line, private: privateKeyFromSecret(secret, comment ?? 'stint-test') };
}

/** `ssh-keygen -Y sign` by the real OpenSSH tool: the armored signature of `message` with `privateKey`. */
export function sshKeygenSign(privateKey: string, namespace: string, message: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'stint-sign-'));
  try {
    const file = join(dir, 'key');
    writeFileSync(file, privateKey, { mode: 0o600 });
    return execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-n', namespace, '-f', file], { input: message, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
