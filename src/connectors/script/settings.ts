// Config fields of a `script` target. The same shape serves the config file
// (module.ts) and the connector, which re-checks what it is handed: the
// factory may be called with settings that never went through the config.

import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';

/** Operation names: the keys of `commands`, and the `operation` field of every request. */
export const operations = ['create', 'remove', 'extend', 'grant', 'revoke', 'list', 'describe', 'health', 'sessions', 'holders'] as const;
export type Operation = (typeof operations)[number];

const noNul = (s: string) => !s.includes('\0');

/** A fixed argv: the executable (absolute path, so PATH cannot pick another) and fixed arguments. */
const argvSchema = z
  .array(z.string().min(1, { error: 'an argument must not be empty' }).max(4096).refine(noNul, { error: 'contains a NUL character' }), {
    error: 'must be a list: [absolute path of the executable, fixed arguments…]',
  })
  .min(1, { error: 'must name the executable' })
  .max(64, { error: 'has more than 64 arguments' })
  .refine((argv) => argv[0] !== undefined && isAbsolute(argv[0]), {
    error: 'the first element must be the absolute path of the executable (PATH is not searched)',
  });

const commandsSchema = z.strictObject({
  create: argvSchema,
  remove: argvSchema,
  extend: argvSchema.optional(),
  grant: argvSchema,
  revoke: argvSchema,
  list: argvSchema,
  describe: argvSchema.optional(),
  health: argvSchema,
  sessions: argvSchema.optional(),
  holders: argvSchema.optional(),
});

const MIN_TIMEOUT_MS = 100;
const MAX_TIMEOUT_MS = 10 * 60_000;

/** Milliseconds (a number) or a duration such as 30s or 2m. */
const timeoutSchema = z.unknown().transform((v, ctx): number => {
  let ms: number | undefined;
  if (typeof v === 'number' && Number.isInteger(v)) ms = v;
  else if (typeof v === 'string') {
    const parsed = parseDuration(v);
    if (parsed.ok) ms = parsed.ms;
  }
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be milliseconds (a whole number) or a duration like 30s or 2m' });
    return z.NEVER;
  }
  if (ms < MIN_TIMEOUT_MS || ms > MAX_TIMEOUT_MS) {
    ctx.addIssue({ code: 'custom', message: `must be between ${MIN_TIMEOUT_MS}ms and ${MAX_TIMEOUT_MS / 60_000}m` });
    return z.NEVER;
  }
  return ms;
});

const envNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { error: 'is not an environment variable name' });

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
export const DEFAULT_MAX_CONCURRENCY = 8;

/** Config fields of a script target (beside name, kind, admin, critical). */
export const scriptSettingsShape = {
  commands: commandsSchema,
  timeout: timeoutSchema.optional(),
  workingDirectory: z
    .string()
    .refine((p) => isAbsolute(p) && noNul(p), { error: 'must be an absolute path' })
    .optional(),
  /** Variables the scripts get beside PATH (which this may override). Never put the admin secret here. */
  env: z.record(envNameSchema, z.string().max(8192).refine(noNul, { error: 'contains a NUL character' })).optional(),
  maxOutputBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .optional(),
  /** Scripts running at once for this target. */
  maxConcurrency: z.number().int().min(1).max(64).optional(),
  /** Returned as is by connectionInfo (what a person needs to connect; never a secret). */
  connection: z.record(z.string().min(1).max(64), z.union([z.string().max(1024), z.number()])).optional(),
};

export const scriptSettingsSchema = z.strictObject(scriptSettingsShape);

export interface ScriptSettings {
  commands: Partial<Record<Operation, string[]>> & Record<'create' | 'remove' | 'grant' | 'revoke' | 'list' | 'health', string[]>;
  timeoutMs: number;
  workingDirectory: string;
  env: Record<string, string>;
  maxOutputBytes: number;
  maxConcurrency: number;
  connection: Record<string, string | number>;
}

/** The settings schema with defaults filled: what the connector gets. */
export const scriptSettingsResolved = scriptSettingsSchema.transform((s): ScriptSettings => ({
  commands: s.commands,
  timeoutMs: s.timeout ?? DEFAULT_TIMEOUT_MS,
  // Not the broker's own directory, which may hold its database or key file.
  workingDirectory: s.workingDirectory ?? '/',
  env: s.env ?? {},
  maxOutputBytes: s.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
  maxConcurrency: s.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
  connection: s.connection ?? {},
}));

/** Parses settings and fills defaults; returns zod's error for the caller to word. */
export function parseScriptSettings(raw: unknown): { ok: true; settings: ScriptSettings } | { ok: false; error: z.ZodError } {
  const parsed = scriptSettingsResolved.safeParse(raw);
  return parsed.success ? { ok: true, settings: parsed.data } : { ok: false, error: parsed.error };
}

/** Account names and grants: one line of text; they travel only inside the JSON request. */
export function checkText(what: string, v: string, max = 256): string | null {
  if (v.length === 0) return `${what} must not be empty`;
  if (v.length > max) return `${what} is longer than ${max} characters`;
  if (/[\p{Cc}]/u.test(v)) return `${what} must not contain control characters (NUL, line breaks, …)`;
  return null;
}
