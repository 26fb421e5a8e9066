// Reads a target's admin secret from where the config says it lives. Error
// messages name the variable or file, never any part of the value.

import { open } from 'node:fs/promises';
import { invalid } from '../core/errors.js';
import type { TargetDef } from '../core/types.js';

/** A password file larger than this is not a password file. */
const maxSecretBytes = 64 * 1024;

export async function readAdminSecret(def: TargetDef, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const source = def.adminSecretSource;
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined) {
      throw invalid(`admin secret for target ${def.name}: environment variable ${source.env} is not set`);
    }
    if (value.length === 0) {
      throw invalid(`admin secret for target ${def.name}: environment variable ${source.env} is empty`);
    }
    return value;
  }
  if ('file' in source) return readSecretFile(def.name, source.file);
  // The demo target's credential is created by the demo setup, not read from config.
  throw invalid(`admin secret for target ${def.name} is supplied by the demo setup and cannot be read from config`);
}

async function readSecretFile(target: string, path: string): Promise<string> {
  return readPrivateFile(`admin secret file ${path} for target ${target}`, path);
}

/**
 * Reads a file that holds a secret (an admin password, a private key): it
 * must be a regular file readable by its owner only. `what` names it in errors.
 */
export async function readPrivateFile(what: string, path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw invalid(`${what} does not exist`);
    if (code === 'EACCES') throw invalid(`${what} cannot be read by this process (permission denied)`);
    throw invalid(`${what} cannot be opened (${code ?? 'error'})`);
  }
  try {
    // fstat the opened file, not the path, so a swap between check and read cannot slip past.
    const info = await handle.stat();
    if (!info.isFile()) throw invalid(`${what} is not a regular file`);
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw invalid(`${what} is accessible by group or others (mode ${mode}); run: chmod 600 ${path}`);
    }
    if (info.size > maxSecretBytes) throw invalid(`${what} is larger than ${maxSecretBytes / 1024} KiB`);
    const text = (await handle.readFile({ encoding: 'utf8' })).replace(/\r?\n$/, '');
    if (text.length === 0) throw invalid(`${what} is empty`);
    return text;
  } finally {
    await handle.close();
  }
}
