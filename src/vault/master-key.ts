// Where the vault's master key comes from: STINT_MASTER_KEY, or a key file in
// the data directory that is generated on first use. Messages name the source
// and a key id, never the key.

import { randomBytes } from 'node:crypto';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreTx } from '../core/ports.js';
import { masterKeyBytes, type Vault } from './vault.js';

export const masterKeyEnv = 'STINT_MASTER_KEY';
export const masterKeyFileName = 'master.key';

export type MasterKeySource = 'env' | 'file' | 'generated';

export interface LoadedMasterKey {
  key: Buffer;
  source: MasterKeySource;
  /** Where it came from, for messages: the variable name or the file path. */
  location: string;
}

export async function loadMasterKey(opts: { env: NodeJS.ProcessEnv; dataDir: string }): Promise<LoadedMasterKey> {
  const fromEnv = opts.env[masterKeyEnv];
  if (fromEnv !== undefined) {
    // Set-but-empty is a deployment mistake; falling back to a key file would hide it.
    return { key: decodeKeyText(fromEnv, masterKeyEnv), source: 'env', location: masterKeyEnv };
  }
  const path = join(opts.dataDir, masterKeyFileName);
  const existing = await readKeyFile(path);
  if (existing) return { key: existing, source: 'file', location: path };
  return createKeyFile(opts.dataDir, path);
}

/** Accepts 64 hex digits or base64/base64url of exactly 32 bytes. */
export function decodeKeyText(text: string, where: string): Buffer {
  const t = text.trim();
  const help =
    `${where} must hold ${masterKeyBytes} bytes written as 64 hex digits or as base64 (44 characters); ` +
    `generate one with: openssl rand -base64 ${masterKeyBytes}`;
  if (t.length === 0) throw new Error(`${where} is empty; ${help}`);
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) {
    const bytes = Buffer.from(t, 'base64');
    // Re-encoding catches stray characters and trailing bits Node's lenient decoder would skip.
    const normalized = t.replace(/-/g, '+').replace(/_/g, '/');
    const canonical = bytes.toString('base64') === normalized + '='.repeat((4 - (normalized.length % 4)) % 4);
    if (canonical && bytes.length === masterKeyBytes) return bytes;
    if (/^[0-9a-fA-F]+$/.test(t)) throw new Error(`${where} has ${t.length} hex digits, not 64; ${help}`);
    if (!canonical) throw new Error(`${where} is not valid base64 (${t.length} characters); ${help}`);
    throw new Error(`${where} decodes to ${bytes.length} bytes, not ${masterKeyBytes}; ${help}`);
  }
  throw new Error(`${where} is neither hex nor base64 (${t.length} characters); ${help}`);
}

async function readKeyFile(path: string): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot open master key file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error(`master key file ${path} is not a regular file`);
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new Error(`refusing master key file ${path}: it is accessible by group or others (mode ${mode}); run: chmod 600 ${path}`);
    }
    if (info.size > 1024) throw new Error(`master key file ${path} is too large to be a key (${info.size} bytes)`);
    const content = await handle.readFile();
    // Raw 32 bytes, or text (as written by Stint, or pasted from STINT_MASTER_KEY).
    if (content.length === masterKeyBytes) return content;
    return decodeKeyText(content.toString('utf8'), `master key file ${path}`);
  } finally {
    await handle.close();
  }
}

/**
 * Writes a new key to a private temporary file, then links it into place:
 * link() fails if the name exists, so two brokers starting together never
 * overwrite each other's key, and nobody ever reads a half-written file.
 */
async function createKeyFile(dataDir: string, path: string): Promise<LoadedMasterKey> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(masterKeyBytes);
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.chmod(0o600); // in case the filesystem ignored the create mode
    // Stored as base64 text so an operator can move it into STINT_MASTER_KEY as is.
    await handle.writeFile(`${key.toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process created it first: use theirs.
    const theirs = await readKeyFile(path);
    if (theirs) return { key: theirs, source: 'file', location: path };
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  return { key, source: 'generated', location: path };
}

const defaultLocation: Record<MasterKeySource, string> = {
  env: masterKeyEnv,
  file: `${masterKeyFileName} in the data directory`,
  generated: `${masterKeyFileName} in the data directory`,
};

const checkMetaKey = 'vault.check';
const keyIdMetaKey = 'vault.keyId';
const checkValue = 'stint-vault-check-v1';

/**
 * Proves the master key is the one the stored data was sealed with, so a
 * wrong key fails loudly at start instead of at the first revoke.
 */
export async function checkMasterKey(
  store: Pick<StoreTx, 'getMeta' | 'setMeta'>,
  vault: Pick<Vault, 'seal' | 'unseal' | 'keyId'>,
  /** Where the key came from, for the message: the loaded key's `source`, or `{ source, location }`. */
  from?: MasterKeySource | Pick<LoadedMasterKey, 'source' | 'location'>,
): Promise<void> {
  const origin = typeof from === 'string' ? { source: from, location: defaultLocation[from] } : from;
  const sealed = await store.getMeta(checkMetaKey);
  if (sealed === undefined) {
    await store.setMeta(keyIdMetaKey, vault.keyId);
    await store.setMeta(checkMetaKey, vault.seal(checkValue, `meta:${checkMetaKey}`));
    // Read back: another broker sharing the store may have raced us with a different key.
    const stored = await store.getMeta(checkMetaKey);
    if (stored !== undefined && opens(vault, stored)) return;
  } else if (opens(vault, sealed)) {
    return;
  }
  const storedId = await store.getMeta(keyIdMetaKey);
  const fromText = origin ? `from ${origin.location} ` : '';
  const fix =
    origin?.source === 'generated'
      ? `no master key was found, so a new one was generated at ${origin.location}; restore the original key file there or set ${masterKeyEnv}`
      : `use the original master key (set ${masterKeyEnv} or restore ${masterKeyFileName} in the data directory)`;
  throw new Error(
    `the master key ${fromText}(key id ${vault.keyId}) does not match the key this data was sealed with` + `${storedId ? ` (key id ${storedId})` : ''}; ${fix}`,
  );
}

function opens(vault: Pick<Vault, 'unseal'>, sealed: string): boolean {
  try {
    return vault.unseal(sealed, `meta:${checkMetaKey}`) === checkValue;
  } catch {
    return false;
  }
}
