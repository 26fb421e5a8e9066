// Building blocks of the config schemas (schema.ts, notifications-schema.ts):
// names, durations, integers and strict objects whose errors list the known
// fields. Kept apart so the section schemas can use them without a cycle.

import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

/** Names of targets, profiles, policies, users and groups: safe in logs, URLs and identifiers. */
export const namePattern = /^[a-z][a-z0-9_.-]{0,62}$/i;
/** Profile patterns in policies: a name in which `*` stands for any run of characters. */
export const profilePatternPattern = /^[a-z0-9_.*-]{1,63}$/i;
export const envVarPattern = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Prefix of the message a strict object gives for unknown keys; the loader lists them per key. */
export const knownFieldsPrefix = 'known fields: ';

/**
 * Quotes a user-supplied value for an error message: escapes quotes,
 * backslashes and invisible or control characters (NUL, bidi overrides, line
 * separators) so a message cannot be forged or hide text, and truncates long
 * values so one bad value cannot flood a log.
 */
export function quoteValue(value: string, max = 40): string {
  const chars = Array.from(value);
  const cut = chars.length > max ? chars.slice(0, max).join('') : value;
  const escaped = cut.replace(/["\\]/g, '\\$&').replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu, (c) => {
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return chars.length > max ? `"${escaped}…" (${chars.length} characters)` : `"${escaped}"`;
}

export function nameSchema(what: string) {
  return z.string().superRefine((v, ctx) => {
    if (!namePattern.test(v)) {
      ctx.addIssue({
        code: 'custom',
        message: `${quoteValue(v)} is not a valid ${what} name: start with a letter, then use only letters, digits, _ . - (at most 63 characters)`,
      });
    }
  });
}

/** A target-native permission or account (role, group DN, ACL rule, sudo rule…): one line of text. */
export function grantSchema() {
  return z.string().superRefine((v, ctx) => {
    if (v.length === 0) ctx.addIssue({ code: 'custom', message: 'grant must not be empty' });
    else if (/[\0\r\n]/.test(v)) ctx.addIssue({ code: 'custom', message: `grant ${quoteValue(v)} contains a NUL or line break` });
    else if (v.length > 1024) ctx.addIssue({ code: 'custom', message: `grant ${quoteValue(v)} is longer than 1024 characters` });
  });
}

/** A duration written like 90s, 30m, 1h30m; becomes milliseconds. */
export function durationSchema(opts: { minMs?: number; maxMs?: number } = {}) {
  return z.unknown().transform((v, ctx): number => {
    if (typeof v !== 'string' && typeof v !== 'number') {
      ctx.addIssue({ code: 'custom', message: 'must be a duration, written like 90s, 30m, 1h or 1h30m' });
      return z.NEVER;
    }
    const parsed = parseDuration(String(v));
    if (!parsed.ok) {
      // parseDuration quotes the value as is; escape anything that is not plain printable ASCII.
      const plain = /^[\x20-\x7e]*$/.test(String(v)) && !/["\\]/.test(String(v));
      const message = plain ? parsed.error : `${quoteValue(String(v))} is not a duration; write it like 90s, 30m, 1h or 1h30m`;
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    if (opts.minMs !== undefined && parsed.ms < opts.minMs) {
      ctx.addIssue({ code: 'custom', message: `duration ${quoteValue(String(v))} is shorter than the smallest allowed here (${opts.minMs / 1000}s)` });
      return z.NEVER;
    }
    if (opts.maxMs !== undefined && parsed.ms > opts.maxMs) {
      ctx.addIssue({ code: 'custom', message: `duration ${quoteValue(String(v))} is longer than the largest allowed here (${opts.maxMs / 60_000}m)` });
      return z.NEVER;
    }
    return parsed.ms;
  });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, {
    error: (iss) => {
      const choices = `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
      if (iss.input === undefined) return `is required (${choices})`;
      return `must be ${choices}${typeof iss.input === 'string' ? `, not ${quoteValue(iss.input)}` : ''}`;
    },
  });
}

export function intSchema(min: number, max: number) {
  return z
    .number()
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });
}

/** A strict object whose unknown-key issue carries the known keys, for "did you mean". */
export function strict<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `${knownFieldsPrefix}${known}` : undefined),
  });
}
