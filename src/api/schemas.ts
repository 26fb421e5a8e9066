// Input schemas shared by routes (and so by the OpenAPI document).

import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { unsafeTextProblem } from '../core/text.js';

export const nameSchema = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'must start with a letter and contain only letters, digits, _ . -');

export const durationSchema = z
  .string()
  .max(40, 'is too long to be a duration')
  .transform((text, ctx) => {
    const r = parseDuration(text);
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: r.error });
      return z.NEVER;
    }
    return r.ms;
  })
  .describe('a duration such as 30m, 1h or 1h30m');

/**
 * Free text a person writes and others read (a reason, a ticket, a comment, a
 * token's description, an SSH key's comment): at most `max` characters, one
 * line, none of the characters core/text.ts refuses: controls (an ESC could
 * repaint an approver's terminal; NUL, which PostgreSQL's text refuses, too),
 * invisible and bidirectional formatting characters, and lone surrogates (they
 * would be stored as U+FFFD, not as sent). The message names the character and
 * where it is.
 */
export function freeText(max: number) {
  return z
    .string()
    .max(max, `must be at most ${max} characters`)
    .superRefine((s, ctx) => {
      const problem = unsafeTextProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}
export const reasonSchema = freeText(1000);
export const commentSchema = reasonSchema;

/**
 * A whole number in a query string or path: plain decimal digits only. No
 * sign, hex (`0x10`), exponent (`1e3`), fraction, blank or surrounding space,
 * all of which z.coerce.number() accepted. At most 16 digits; a bound of at
 * most Number.MAX_SAFE_INTEGER keeps the value exact.
 */
export function queryInt(opts: { min: number; max: number }) {
  return z
    .string()
    .regex(/^[0-9]{1,16}$/, 'must be a whole number written in decimal digits only')
    .transform((s) => Number(s))
    .pipe(z.number().int().min(opts.min, `must be at least ${opts.min}`).max(opts.max, `must be at most ${opts.max}`));
}

export const requestIdParam = z.object({ id: z.string().regex(/^req_[a-z0-9]{12}$/, 'is not a request id (req_…)') }).strict();
export const grantIdParam = z.object({ id: z.string().regex(/^gr_[a-z0-9]{12}$/, 'is not a grant id (gr_…)') }).strict();
export const tokenIdParam = z.object({ id: z.string().regex(/^tok_[a-z0-9]{12}$/, 'is not a token id (tok_…)') }).strict();

export const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time')
  .transform((s) => Date.parse(s));
export const sshKeyIdParam = z.object({ id: z.string().regex(/^key_[a-z0-9]{12}$/, 'is not an SSH key id (key_…)') }).strict();
