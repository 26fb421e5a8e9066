// Turns whatever mysql2 throws into a TargetError that names the operation
// and the account, says whether retrying can help, and carries no secret.
// The driver error is never attached as `cause`: its `sql` property holds the
// statement text, password hash included.

import { TargetError } from '../../core/errors.js';
import { nativePasswordHash } from './grammar.js';

export interface ErrorContext {
  target: string;
  operation: string;
  account?: string;
  /** Every secret that may appear in driver text; their password hashes are removed too. */
  secrets: readonly string[];
}

// Server errors that go away on their own: shutdown, overload, lock and
// deadlock conflicts, a killed connection.
const retryableErrnos = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1053, // ER_SERVER_SHUTDOWN
  1077, // ER_NORMAL_SHUTDOWN
  1079, // ER_SHUTDOWN_COMPLETE
  1152, // ER_ABORTING_CONNECTION
  1158, // ER_NET_READ_ERROR
  1159, // ER_NET_READ_INTERRUPTED
  1160, // ER_NET_ERROR_ON_WRITE
  1161, // ER_NET_WRITE_INTERRUPTED
  1180, // ER_ERROR_DURING_COMMIT
  1203, // ER_TOO_MANY_USER_CONNECTIONS
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1226, // ER_USER_LIMIT_REACHED
  1927, // ER_CONNECTION_KILLED
  2002, // CR_CONNECTION_ERROR
  2003, // CR_CONN_HOST_ERROR
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
]);

const retryableCodes = new Set([
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
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_PACKETS_OUT_OF_ORDER',
  // Raised by this connector when GET_LOCK times out (another operation on the account is running).
  'STINT_LOCK_TIMEOUT',
]);

const retryableText = /connection is in closed state|Can't add new command when connection is in closed state|Pool is closed|connect ETIMEDOUT|server has gone away|Lost connection/i;

const hints: Record<number, string> = {
  1045: 'the target refused the admin credential',
  1044: 'the admin credential lacks a privilege this needs (see src/connectors/mysql/README.md)',
  1142: 'the admin credential lacks a privilege this needs (see src/connectors/mysql/README.md)',
  1143: 'the admin credential lacks a privilege this needs (see src/connectors/mysql/README.md)',
  1227: 'the admin credential lacks a privilege this needs (see src/connectors/mysql/README.md)',
  1959: 'a role named in the request does not exist, or the admin does not hold it WITH ADMIN OPTION',
  1146: 'a table named in a grant does not exist',
};

function redactionForms(secret: string): string[] {
  // Raw, as a SQL literal body (backslash or quote doubling), JSON-escaped,
  // URL-encoded, and the stored hash the connector computes from it.
  return [
    secret,
    secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'"),
    secret.replace(/'/g, "''"),
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    nativePasswordHash(secret),
    nativePasswordHash(secret).slice(1),
  ];
}

/** Removes every form of every secret from `text`. */
export function scrub(text: string, secrets: readonly string[]): string {
  const forms = secrets
    .filter((s) => s.length > 0)
    .flatMap(redactionForms)
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const f of forms) out = out.split(f).join('[redacted]');
  // Any password hash, known or not.
  return out.replace(/\*[0-9A-F]{40}\b/g, '*[redacted]');
}

interface DriverErrorLike {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
  sqlMessage?: unknown;
  fatal?: unknown;
  errors?: unknown;
}

function props(err: unknown): DriverErrorLike {
  return (typeof err === 'object' && err !== null ? err : {}) as DriverErrorLike;
}

function codeOf(err: unknown): string | undefined {
  const e = props(err);
  if (typeof e.code === 'string') return e.code;
  // Node reports a failed multi-address connect as an AggregateError.
  if (Array.isArray(e.errors)) for (const inner of e.errors) {
    const c = codeOf(inner);
    if (c) return c;
  }
  return undefined;
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof TargetError) return err.retryable;
  const e = props(err);
  if (typeof e.errno === 'number' && retryableErrnos.has(e.errno)) return true;
  const code = codeOf(err);
  if (code !== undefined && retryableCodes.has(code)) return true;
  // A server error with a number is final unless listed above.
  if (typeof e.errno === 'number' && typeof e.sqlMessage === 'string') return false;
  const message = typeof e.message === 'string' ? e.message : String(err);
  return retryableText.test(message);
}

/** Builds the message prefix every connector error starts with. */
export function describeOperation(ctx: Pick<ErrorContext, 'target' | 'operation' | 'account'>): string {
  const who = ctx.account === undefined ? '' : ` of account ${JSON.stringify(ctx.account)}`;
  return `mysql target ${JSON.stringify(ctx.target)}: ${ctx.operation}${who} failed`;
}

export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  if (err instanceof TargetError) return new TargetError(err.target, scrub(err.message, ctx.secrets), err.retryable);
  const e = props(err);
  const code = codeOf(err);
  let text = typeof e.sqlMessage === 'string' && e.sqlMessage ? e.sqlMessage : typeof e.message === 'string' && e.message ? e.message : String(err);
  if (typeof e.errno === 'number' && typeof e.sqlMessage === 'string') text += ` [${e.errno}]`;
  else if (code) text += ` [${code}]`;
  const hint = typeof e.errno === 'number' ? hints[e.errno] : undefined;
  if (hint) text += `. ${hint}`;
  return new TargetError(ctx.target, scrub(`${describeOperation(ctx)}: ${text}`, ctx.secrets), isRetryable(err));
}
