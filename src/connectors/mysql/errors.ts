// Turns whatever mysql2 throws into a TargetError that names the operation
// and the account, says whether retrying can help, and carries no secret.
// The driver error is never attached as `cause`: its `sql` property holds the
// statement text, password hash included.

import { TargetError } from '../../core/errors.js';
import { scrub as scrubText } from '../../core/scrub.js';
import * as shared from '../errors.js';
import type { ErrorContext } from '../errors.js';
import { nativePasswordHash } from './grammar.js';

// Every secret in `secrets` has its password hash removed too (see scrub below).
export type { ErrorContext } from '../errors.js';

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

// mysql2's own codes for a connection that died or lost sync, besides node's network codes.
const retryableDriverCodes = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_PACKETS_OUT_OF_ORDER',
  // Raised by this connector when GET_LOCK times out (another operation on the account is running).
  'STINT_LOCK_TIMEOUT',
]);

const retryableText =
  /connection is in closed state|Can't add new command when connection is in closed state|Pool is closed|connect ETIMEDOUT|server has gone away|Lost connection/i;

const hints: Record<number, string> = {
  1045: 'the target refused the admin credential',
  1044: 'the admin credential lacks a privilege this needs (see src/connectors/mysql/README.md)',
  1142: 'the admin credential lacks a privilege this needs (see src/connectors/mysql/README.md)',
  1143: 'the admin credential lacks a privilege this needs (see src/connectors/mysql/README.md)',
  1227: 'the admin credential lacks a privilege this needs (see src/connectors/mysql/README.md)',
  1959: 'a role named in the request does not exist, or the admin does not hold it WITH ADMIN OPTION',
  1146: 'a table named in a grant does not exist',
};

/** The forms only MySQL gives a secret: SQL literal bodies (backslash escaping, or quote doubling alone) and the stored hash the connector computes from it. */
function mysqlForms(secret: string): string[] {
  const hash = nativePasswordHash(secret);
  return [secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'"), secret.replace(/'/g, "''"), hash, hash.slice(1)];
}

/** Removes every form of every secret (the shared ones and MySQL's) from `text`, and any password hash. */
export function scrub(text: string, secrets: readonly string[]): string {
  const known = secrets.filter((s) => s.length > 0);
  const out = scrubText(text, [...known, ...known.flatMap(mysqlForms)]);
  // Any password hash, known or not.
  return out.replace(/\*[0-9A-F]{40}\b/g, '*[redacted]');
}

interface DriverErrorLike {
  errno?: unknown;
  message?: unknown;
  sqlMessage?: unknown;
  fatal?: unknown;
}

function props(err: unknown): DriverErrorLike {
  return (typeof err === 'object' && err !== null ? err : {}) as DriverErrorLike;
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof TargetError) return err.retryable;
  const e = props(err);
  if (typeof e.errno === 'number' && retryableErrnos.has(e.errno)) return true;
  const code = shared.errorCodeOf(err);
  if (code !== undefined && (shared.networkErrorCodes.has(code) || retryableDriverCodes.has(code))) return true;
  // A server error with a number is final unless listed above.
  if (typeof e.errno === 'number' && typeof e.sqlMessage === 'string') return false;
  const message = typeof e.message === 'string' ? e.message : String(err);
  return retryableText.test(message);
}

/** Builds the message prefix every connector error starts with. */
export function describeOperation(ctx: Pick<ErrorContext, 'target' | 'operation' | 'account'>): string {
  return shared.describeOperation('mysql', ctx);
}

export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  if (err instanceof TargetError) return new TargetError(err.target, scrub(err.message, ctx.secrets), err.retryable);
  const e = props(err);
  const code = shared.errorCodeOf(err);
  let text = typeof e.sqlMessage === 'string' && e.sqlMessage ? e.sqlMessage : typeof e.message === 'string' && e.message ? e.message : String(err);
  if (typeof e.errno === 'number' && typeof e.sqlMessage === 'string') text += ` [${e.errno}]`;
  else if (code) text += ` [${code}]`;
  const hint = typeof e.errno === 'number' ? hints[e.errno] : undefined;
  if (hint) text += `. ${hint}`;
  return new TargetError(ctx.target, scrub(`${describeOperation(ctx)}: ${text}`, ctx.secrets), isRetryable(err));
}
