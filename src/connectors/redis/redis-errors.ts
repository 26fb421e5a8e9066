// Turns whatever ioredis throws into a TargetError that names the operation
// and account, says whether retrying can help, and carries no secret. The
// driver error is not attached as `cause`: ioredis puts the command and its
// arguments (with the password hash) on it.

import { TargetError } from '../../core/errors.js';

export interface ErrorContext {
  target: string;
  operation: string;
  account?: string;
  /** Every secret that may appear in driver text: the password, its hash, the admin secret. */
  secrets: readonly string[];
}

const retryableNodeCodes = new Set([
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

// Server replies that mean "not now": loading the dataset, a busy script, a
// replica without its master, too many clients, or ACL SAVE failing to write
// (a disk problem; removal re-saves on retry).
const retryableReply = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY)\b|^ERR max number of clients|^ERR There was an error trying to save the ACLs/;

// ioredis raises these without a code when a connection dies, cannot be made, or a command times out.
const retryableDriverText =
  /Connection is closed|Command timed out|Stream isn't writeable|connect ETIMEDOUT|Socket closed unexpectedly|max retries per request|Reached the max retries/i;

const hints: [RegExp, string][] = [
  [/^NOPERM/, 'the admin credential lacks a permission this needs (see src/connectors/redis/README.md)'],
  [/^(WRONGPASS|NOAUTH)/, 'the target refused the admin credential'],
  [/Unknown command or category name in ACL/, 'a grant names a command or category this Redis does not have'],
];

function redactionForms(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)];
}

/** Removes every form of every secret from `text`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  const forms = secrets
    .filter((s) => s.length > 0)
    .flatMap(redactionForms)
    .sort((a, b) => b.length - a.length);
  for (const f of forms) out = out.split(f).join('[redacted]');
  return out;
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const c = codeOf(inner);
      if (c) return c;
    }
  }
  return undefined;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function isRetryable(err: unknown): boolean {
  if (err instanceof TargetError) return err.retryable;
  const code = codeOf(err);
  if (code !== undefined && retryableNodeCodes.has(code)) return true;
  const message = messageOf(err);
  return retryableReply.test(message) || retryableDriverText.test(message);
}

/** The prefix every connector error starts with. */
export function describeOperation(ctx: Pick<ErrorContext, 'target' | 'operation' | 'account'>): string {
  const who = ctx.account === undefined ? '' : ` of account ${JSON.stringify(ctx.account)}`;
  return `redis target ${JSON.stringify(ctx.target)}: ${ctx.operation}${who} failed`;
}

export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  if (err instanceof TargetError) return new TargetError(err.target, scrub(err.message, ctx.secrets), err.retryable);
  let text = messageOf(err) || 'unknown error';
  const code = codeOf(err);
  if (code && !text.includes(code)) text += ` [${code}]`;
  const hint = hints.find(([re]) => re.test(text))?.[1];
  if (hint) text += `. ${hint}`;
  return new TargetError(ctx.target, scrub(`${describeOperation(ctx)}: ${text}`, ctx.secrets), isRetryable(err));
}
