// The SSH gateway's host key: the operator's file (gateways.ssh.hostKeyFile,
// mode 0600), or DATA_DIR/ssh_host_ed25519_key, made on first start and kept,
// so clients that pinned it keep trusting the gateway across restarts.

import { randomBytes } from 'node:crypto';
import { link, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { readPrivateFile } from '../../config/secrets.js';
import { invalid } from '../../core/errors.js';
import { fingerprintOf, privateKeyFromSecret } from '../../connectors/ssh/keys.js';

export interface HostKey {
  privateKey: string;
  /** `ssh-ed25519 AAAA…`: the known_hosts entry clients need. */
  publicKey: string;
  fingerprint: string;
  file: string;
}

export async function loadHostKey(opts: { file: string | null; dataDir: string }): Promise<HostKey> {
  const file = opts.file ?? join(opts.dataDir, 'ssh_host_ed25519_key');
  if (opts.file === null) {
    // Written whole beside it, then linked into place: link never replaces a key clients already trust,
    // and a second broker starting at the same moment reads a complete file (the first one's).
    const fresh = privateKeyFromSecret(randomBytes(32).toString('base64url'), 'stint-gateway');
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, fresh, { mode: 0o600, flag: 'wx' });
    try {
      await link(tmp, file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    } finally {
      await rm(tmp, { force: true });
    }
  }
  const privateKey = `${await readPrivateFile(`SSH gateway host key ${file}`, file)}\n`;
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) {
    throw invalid(`SSH gateway host key ${file} is not an unencrypted private key (OpenSSH or PEM); make one with: ssh-keygen -t ed25519 -N '' -f ${file}`);
  }
  if (key.type !== 'ssh-ed25519') {
    // ssh2 offers an RSA host key as ssh-rsa (SHA-1) too, whatever it is told, and ECDSA keys use NIST curves.
    throw invalid(
      `SSH gateway host key ${file} is ${key.type}; the gateway takes Ed25519 host keys only (ssh2 would also offer an RSA key as SHA-1 ssh-rsa; ECDSA uses NIST curves). Make one with: ssh-keygen -t ed25519 -N '' -f ${file}`,
    );
  }
  const blob = key.getPublicSSH();
  return { privateKey, publicKey: `${key.type} ${blob.toString('base64')}`, fingerprint: fingerprintOf(blob), file };
}
