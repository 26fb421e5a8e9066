// Config fields of an ssh target (module.ts exposes the shape to the config
// loader; the connector parses with the cross-field checks added).

import { z } from 'zod';

// Paths are pasted into sudo command lines (quoted) and compared with passwd
// entries, so only plain absolute paths are accepted.
const absPath = z
  .string()
  .regex(/^\/(?:[A-Za-z0-9._-]+\/?)*$/, 'must be an absolute path of letters, digits and ._-')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain . or .. segments')
  .transform((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p));

const UID_LIMIT = 2 ** 31 - 2;

export const sshSettingsShape = {
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535).default(22),
  /** The host key's fingerprint as `ssh-keygen -lf <key>` prints it; connections to any other key are refused. */
  hostKeySha256: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must look like SHA256:<43 base64 characters> (ssh-keygen -lf)'),
  /** UIDs of ephemeral accounts: a range no other account source (local or directory) uses. */
  uidMin: z.number().int().min(1000).max(UID_LIMIT),
  uidMax: z.number().int().min(1000).max(UID_LIMIT),
  /** Primary group of every ephemeral account: with the UID range, Stint's marker. */
  markerGroup: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/)
    .default('stint-managed'),
  homeBase: absPath.refine((p) => p !== '/', 'must not be /').default('/home'),
  shell: absPath.default('/bin/bash'),
  /** Root-owned directory for the UID log and own-account records. */
  stateDir: absPath.refine((p) => p !== '/', 'must not be /').default('/var/lib/stint-ssh'),
  /**
   * Root-owned directory the account's public key is written to (`<dir>/<account>`, root, 0644). The
   * host's sshd must read the marker group's keys from there only (`AuthorizedKeysFile <dir>/%u` in a
   * `Match Group <markerGroup>` block; README "The host's sshd"), never from a home the account can write.
   */
  authorizedKeysDir: absPath.refine((p) => p !== '/', 'must not be /').default('/etc/ssh/stint-keys'),
  /** The sshd config `stint reconcile` checks (`sshd -T -f`). */
  sshdConfig: absPath.default('/etc/ssh/sshd_config'),
  /**
   * A locked account in the marker group that never logs in (no key, expired, nologin; a system UID outside
   * uidMin-uidMax, so it is not an ephemeral account): `sshd -T -C user=<it>` evaluates the Match Group block with it.
   */
  probeAccount: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/)
    .default('stint-probe'),
  /** Directories whose files owned by a removed account are deleted. */
  tempDirs: z.array(absPath).max(16).default(['/tmp', '/var/tmp', '/dev/shm']),
  /** Where to look for files of retired UIDs before reusing one (only when the range is used up). */
  reclaimScanPaths: z.array(absPath).min(1).max(16).default(['/']),
  connectTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  commandTimeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
};

export const sshSettingsSchema = z
  .strictObject(sshSettingsShape)
  .refine((s) => s.uidMin <= s.uidMax, { message: 'uidMin must not exceed uidMax', path: ['uidMax'] })
  .refine((s) => !`${s.authorizedKeysDir}/`.startsWith(`${s.homeBase}/`), {
    message: 'must not be inside homeBase (an account could write there)',
    path: ['authorizedKeysDir'],
  });

export type SshSettings = z.infer<typeof sshSettingsSchema>;
