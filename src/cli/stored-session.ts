// The CLI's sign-in (`stint login`): the broker's sign-in secret and the
// server it is for, in $XDG_CONFIG_HOME/stint/session.json (default
// ~/.config/stint), a 0600 file in a 0700 folder. Never the identity
// provider's tokens: the broker keeps those.

import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface StoredSession {
  server: string;
  secret: string;
  user: string;
  expiresAt: string;
  /** How it was made, so a step-up signs in the same way. */
  via?: 'device' | 'loopback';
}

// Checked by hand rather than with zod: every command reads this file, and
// loading zod would double the CLI's start-up time (bench/cli-startup.ts).
function parseStored(value: unknown): StoredSession | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const { server, secret, user, expiresAt, via } = v;
  if (typeof server !== 'string' || typeof user !== 'string' || typeof expiresAt !== 'string') return undefined;
  if (typeof secret !== 'string' || !/^stints_[A-Za-z0-9_-]{43}$/.test(secret)) return undefined;
  if (via !== undefined && via !== 'device' && via !== 'loopback') return undefined;
  return { server, secret, user, expiresAt, ...(via === undefined ? {} : { via }) };
}

export function sessionDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config');
  return join(base, 'stint');
}

export const sessionFile = (env: NodeJS.ProcessEnv) => join(sessionDir(env), 'session.json');

/** The stored sign-in, or undefined when there is none, it is unreadable, or others can read it. */
export function readStoredSession(env: NodeJS.ProcessEnv): StoredSession | undefined {
  const file = sessionFile(env);
  try {
    if ((statSync(file).mode & 0o077) !== 0) return undefined;
    return parseStored(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

export function writeStoredSession(env: NodeJS.ProcessEnv, s: StoredSession): string {
  const dir = sessionDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = sessionFile(env);
  // Written beside it and renamed, so a reader never sees half a file, and mode 0600 from the start.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

export function deleteStoredSession(env: NodeJS.ProcessEnv): void {
  rmSync(sessionFile(env), { force: true });
}
