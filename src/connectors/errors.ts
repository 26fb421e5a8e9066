// What every connector's error mapping shares: the context an error names,
// node's network error codes (always worth retrying), finding the code inside
// an AggregateError, and the one message prefix. Each kind's *-errors.ts adds
// only what its driver and server say.

import { TargetError } from '../core/errors.js';
import { scrub } from '../core/scrub.js';

export interface ErrorContext {
  target: string;
  operation: string;
  account?: string;
  /** Every secret that may appear in driver text: passwords, their hashes or verifiers, the admin secret. */
  secrets: readonly string[];
}

/** Socket-level failures: the target is unreachable or went away; retrying can help. */
export const networkErrorCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** The string `code` of an error, looking inside AggregateError (a failed multi-address connect). */
export function errorCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const c = errorCodeOf(inner);
      if (c) return c;
    }
  }
  return undefined;
}

export function isNetworkError(err: unknown): boolean {
  const code = errorCodeOf(err);
  return code !== undefined && networkErrorCodes.has(code);
}

/** `<kind> target "<name>": <operation> of account "<account>" failed` */
export function describeOperation(kind: string, ctx: Pick<ErrorContext, 'target' | 'operation' | 'account'>): string {
  const who = ctx.account === undefined ? '' : ` of account ${JSON.stringify(ctx.account)}`;
  return `${kind} target ${JSON.stringify(ctx.target)}: ${ctx.operation}${who} failed`;
}

/** A TargetError raised by the connector itself, scrubbed again in case a caller put text in it. */
export function rescrub(err: TargetError, secrets: readonly string[]): TargetError {
  return new TargetError(err.target, scrub(err.message, secrets), err.retryable);
}

/** The final error: prefixed, scrubbed, and never carrying the driver error (its properties hold statements and arguments). */
export function targetError(kind: string, ctx: ErrorContext, text: string, retryable: boolean): TargetError {
  return new TargetError(ctx.target, scrub(`${describeOperation(kind, ctx)}: ${text}`, ctx.secrets), retryable);
}
