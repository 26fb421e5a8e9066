// Turns whatever ioredis throws into a TargetError that names the operation
// and account, says whether retrying can help, and carries no secret. The
// driver error is not attached as `cause`: ioredis puts the command and its
// arguments (with the password hash) on it.

import { TargetError } from '../../core/errors.js';
import * as shared from '../errors.js';
import type { ErrorContext } from '../errors.js';

export type { ErrorContext } from '../errors.js';
export { scrub } from '../../core/scrub.js';

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

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function isRetryable(err: unknown): boolean {
  if (err instanceof TargetError) return err.retryable;
  if (shared.isNetworkError(err)) return true;
  const message = messageOf(err);
  return retryableReply.test(message) || retryableDriverText.test(message);
}

export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  if (err instanceof TargetError) return shared.rescrub(err, ctx.secrets);
  let text = messageOf(err) || 'unknown error';
  const code = shared.errorCodeOf(err);
  if (code && !text.includes(code)) text += ` [${code}]`;
  const hint = hints.find(([re]) => re.test(text))?.[1];
  if (hint) text += `. ${hint}`;
  return shared.targetError('redis', ctx, text, isRetryable(err));
}
