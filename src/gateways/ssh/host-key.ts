// The SSH gateway's host key: the operator's file (gateways.ssh.hostKeyFile,
// mode 0600), or one made on first start and kept, so clients that pinned it
// keep trusting the gateway across restarts. With a store, the made key is
// sealed in it (like the audit signing key) and every broker sharing the
// store presents the same one; DATA_DIR/ssh_host_ed25519_key is then the
// broker's local copy. Without a store (tests), the file alone.

import { randomBytes } from 'node:crypto';
import { link, lstat, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { readPrivateFile } from '../../config/secrets.js';
import { invalid } from '../../core/errors.js';
import { fingerprintOf, privateKeyFromSecret } from '../../connectors/ssh/keys.js';
import type { Sealer, Store } from '../../core/ports.js';

const keyMeta = 'ssh-gateway-host-key';
const keyContext = 'ssh-gateway-host-key';

export interface HostKey {
  privateKey: string;
  /** `ssh-ed25519 AAAA…`: the known_hosts entry clients need. */
  publicKey: string;
  fingerprint: string;
  file: string;
  /** Where the key came from: the operator's file, the store (shared by brokers), or the data dir alone. */
  source: 'file' | 'store' | 'data-dir';
}

export async function loadHostKey(opts: {
  file: string | null;
  dataDir: string;
  shared?: { store: Pick<Store, 'transaction'>; vault: Sealer };
}): Promise<HostKey> {
  const file = opts.file ?? join(opts.dataDir, 'ssh_host_ed25519_key');
  if (opts.file === null) {
    const fromStore = opts.shared ? await sharedKey(opts.shared, file) : null;
    await writeOnce(file, fromStore ?? privateKeyFromSecret(randomBytes(32).toString('base64url'), 'stint-gateway'));
    if (fromStore !== null) return parseHostKey(fromStore, file, 'store');
  }
  const privateKey = `${await readPrivateFile(`SSH gateway host key ${file}`, file)}\n`;
  return parseHostKey(privateKey, file, opts.file === null ? 'data-dir' : 'file');
}

/**
 * The key sealed in the store, made once: brokers starting together take the
 * same lock, the first one in writes it, the others read it. A broker that ran
 * before keys lived in the store brings its data-dir key in, so the clients
 * that pinned it keep trusting it.
 */
async function sharedKey(shared: { store: Pick<Store, 'transaction'>; vault: Sealer }, file: string): Promise<string> {
  const sealed = await shared.store.transaction(async (tx) => {
    await tx.lock(keyMeta);
    const existing = await tx.getMeta(keyMeta);
    if (existing !== undefined) return existing;
    const local = (await exists(file)) ? `${await readPrivateFile(`SSH gateway host key ${file}`, file)}\n` : null;
    const key = local ?? privateKeyFromSecret(randomBytes(32).toString('base64url'), 'stint-gateway');
    parseHostKey(key, file, 'store');
    const made = shared.vault.seal(key, keyContext);
    await tx.setMeta(keyMeta, made);
    return made;
  });
  return shared.vault.unseal(sealed, keyContext);
}

/** Writes `key` to `file` (0600) unless a file is there already. */
async function writeOnce(file: string, key: string): Promise<void> {
  // Written whole beside it, then linked into place: link never replaces a key clients already trust,
  // and a second broker starting at the same moment reads a complete file (the first one's).
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, key, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(tmp, { force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

function parseHostKey(privateKey: string, file: string, source: HostKey['source']): HostKey {
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
  return { privateKey, publicKey: `${key.type} ${blob.toString('base64')}`, fingerprint: fingerprintOf(blob), file, source };
}
