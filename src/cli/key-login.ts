// How to log in to an account that takes SSH keys (an ephemeral ssh grant), as
// `stint creds` and `stint request --wait` print it: with the person's own
// registered keys, or with the private key made for the grant, which is
// written to a file only they can read (--key-file) or printed once per view.

import { writeFileSync } from 'node:fs';
import type { CredentialsView } from '../api/views/index.js';
import { CliError } from './cli-error.js';
import { escapeText } from '../core/text.js';
import { fields } from './output.js';

/** POSIX shell single-quoting. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_.:/=@,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Writes the private key to a new file (mode 0600); an existing file is never replaced. */
export function writeKeyFile(path: string, c: CredentialsView, grantId: string): void {
  if (!c.privateKey) {
    const how = c.login === undefined ? 'a password, not an SSH key' : 'your registered SSH keys';
    throw new CliError('invalid', `grant ${grantId} logs in with ${how}; there is no private key to write (--key-file)`);
  }
  try {
    writeFileSync(path, c.privateKey, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST'
        ? 'the file exists (it is never replaced; choose a new name)'
        : code === 'ENOENT'
          ? 'its directory does not exist'
          : (code ?? 'cannot write');
    throw new CliError('invalid', `cannot write the private key to ${JSON.stringify(path)}: ${why}`);
  }
}

/** The text lines for a key login; `keyFile`: where the private key was written (it is then not printed). */
export function keyLoginText(c: CredentialsView, grantId: string, keyFile?: string): string {
  const login = c.login ?? '';
  const host = c.connection.hostKeySha256
    ? [`the host's key is ${c.connection.hostKeySha256} (ssh shows it at the first login; compare before answering yes)`]
    : [];
  if (!c.privateKey) {
    const keys = (c.publicKeys ?? []).map((k) => `${k.fingerprint}${k.comment ? ` (${escapeText(k.comment)})` : ''}`);
    return [
      fields([['login with', `your registered SSH key${keys.length === 1 ? '' : 's'} ${keys.join(', ')}`]]),
      '',
      `ssh: ${login}`,
      ...host.map((h) => `     ${h}`),
    ].join('\n');
  }
  if (keyFile !== undefined) {
    return [
      fields([['login with', `the private key made for this grant, written to ${keyFile} (mode 0600)`]]),
      '',
      `ssh: ${login.replace('KEYFILE', shellQuote(keyFile))}`,
      ...host.map((h) => `     ${h}`),
    ].join('\n');
  }
  const suggested = `~/.ssh/stint-${grantId}`;
  return [
    fields([['login with', 'the private key below, made for this grant (you have no SSH key registered: stint keys add)']]),
    '',
    c.privateKey.trimEnd(),
    '',
    `save it: stint creds ${grantId} --key-file ${suggested}   (mode 0600; not printed then)`,
    `ssh: ${login.replace('KEYFILE', suggested)}`,
    ...host.map((h) => `     ${h}`),
  ].join('\n');
}
