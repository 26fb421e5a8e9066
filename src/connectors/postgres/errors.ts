// Turns whatever the pg driver throws into a TargetError that names the
// operation and the account, says whether retrying can help, and carries no
// secret. The original error is deliberately not attached as `cause`: its
// properties (query text, parameters) would travel into logs with it.

import pg from 'pg';
import { TargetError } from '../../core/errors.js';
import * as shared from '../errors.js';

export { scrub } from '../../core/scrub.js';

export interface ErrorContext extends shared.ErrorContext {
  /** Database the connector is connected to (explains REASSIGN/DROP OWNED failures). */
  database: string;
}

// Conditions that go away on their own: the server is starting, stopping,
// overloaded or unreachable, or a lock/serialisation conflict.
const retryableSqlStates = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovery)
  '57014', // query_canceled (statement/lock timeout)
  '53000', // insufficient_resources
  '53100', // disk_full
  '53200', // out_of_memory
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (lock_timeout)
  '58000', // system_error
  '58030', // io_error
]);

// pg raises these without a code when a connection dies or cannot be made in time.
const retryableDriverText = /timeout exceeded when trying to connect|Connection terminated|connection timeout|not queryable|server closed the connection/i;

const hints: Record<string, (ctx: ErrorContext) => string> = {
  '2BP01': (ctx) =>
    'the role still owns objects or holds privileges listed above. REASSIGN OWNED and DROP OWNED only act on ' +
    `the connected database ${JSON.stringify(ctx.database)}, and the admin can only revoke privileges granted by ` +
    'itself or by roles whose privileges it has; remove the rest (in each database named) and retry' +
    (ctx.operation === 'removeAccount' ? '. The account was already set NOLOGIN and its sessions ended' : ''),
  '42501': () => 'the admin credential lacks a privilege this needs (see src/connectors/postgres/README.md)',
  '28P01': () => 'the target refused the admin credential',
  '28000': () => 'the target refused the admin credential',
  '42704': () => 'a role named in the request does not exist on the target',
};

interface DriverErrorLike {
  message?: unknown;
  detail?: unknown;
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof TargetError) return err.retryable;
  const code = shared.errorCodeOf(err);
  if (err instanceof pg.DatabaseError) {
    // SQLSTATE from the server: class 08 is "connection exception".
    return code !== undefined && (code.startsWith('08') || retryableSqlStates.has(code));
  }
  if (shared.isNetworkError(err)) return true;
  const message = err instanceof Error ? err.message : String(err);
  return retryableDriverText.test(message);
}

export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  if (err instanceof TargetError) return shared.rescrub(err, ctx.secrets);
  const e = (typeof err === 'object' && err !== null ? err : {}) as DriverErrorLike;
  const code = shared.errorCodeOf(err);
  let text = typeof e.message === 'string' && e.message.length > 0 ? e.message : String(err);
  if (typeof e.detail === 'string' && e.detail.length > 0) text += ` (${e.detail.replace(/\s+/g, ' ').trim()})`;
  if (code) text += ` [${code}]`;
  const hint = code ? hints[code]?.(ctx) : undefined;
  if (hint) text += `. ${hint}`;
  return shared.targetError('postgres', ctx, text, isRetryable(err));
}
