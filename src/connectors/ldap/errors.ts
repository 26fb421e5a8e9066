// Turns whatever ldapts or the socket throws into a TargetError that names
// the operation and the account, says whether retrying can help, and carries
// no secret. The driver error is not attached as `cause`: its properties
// would travel into logs with it.

import { ResultCodeError } from 'ldapts';
import { TargetError } from '../../core/errors.js';
import * as shared from '../errors.js';
import type { ErrorContext } from '../errors.js';

export type { ErrorContext } from '../errors.js';
export { scrub } from '../../core/scrub.js';

/** LDAP result codes (RFC 4511 section 4.1.9) the connector meets, by name for messages. */
export const resultCodes = {
  success: 0,
  operationsError: 1,
  timeLimitExceeded: 3,
  noSuchAttribute: 16,
  undefinedAttributeType: 17,
  constraintViolation: 19,
  attributeOrValueExists: 20,
  invalidAttributeSyntax: 21,
  noSuchObject: 32,
  invalidDNSyntax: 34,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
  unwillingToPerform: 53,
  objectClassViolation: 65,
  entryAlreadyExists: 68,
  other: 80,
} as const;

const resultCodeNames = new Map<number, string>(Object.entries(resultCodes).map(([k, v]) => [v, k]));

// The server is starting, stopping, overloaded or unreachable: try again later.
const retryableResultCodes = new Set<number>([resultCodes.timeLimitExceeded, resultCodes.busy, resultCodes.unavailable]);

// ldapts raises these as plain Errors when a connection cannot be made in
// time, dies under an operation, or an operation times out.
const retryableDriverText = /Connection timeout|Connection closed before message response|Socket error|Operation timed out|socket hang up/i;

const hints: Partial<Record<number, (ctx: ErrorContext) => string>> = {
  [resultCodes.invalidCredentials]: () => 'the target refused the admin credential',
  [resultCodes.insufficientAccessRights]: () => 'the admin credential lacks a right this needs (see src/connectors/ldap/README.md for the ACLs)',
  [resultCodes.undefinedAttributeType]: () => 'the directory does not know an attribute Stint writes; for pwdEndTime load slapo-ppolicy, or set `expiry: none`',
  [resultCodes.objectClassViolation]: (ctx) =>
    ctx.operation === 'revokeFromAccount' || ctx.operation === 'removeAccount'
      ? 'a groupOfNames/groupOfUniqueNames must keep at least one member; give the group a placeholder member'
      : 'the entry does not satisfy its object classes',
};

export function isResultCode(err: unknown, code: number): boolean {
  return err instanceof ResultCodeError && err.code === code;
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof TargetError) return err.retryable;
  if (err instanceof ResultCodeError) return retryableResultCodes.has(err.code);
  if (shared.isNetworkError(err)) return true;
  const message = err instanceof Error ? err.message : String(err);
  return retryableDriverText.test(message);
}

function driverText(err: unknown): string {
  if (err instanceof ResultCodeError) {
    // ldapts appends " Code: 0x.." to the server's diagnostic message.
    const diagnostic = err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
    // ldapts resets the prototype of its result errors, so the class name says nothing: name the code here.
    const name = resultCodeNames.get(err.code) ?? 'LDAP error';
    return `${name} (LDAP result ${err.code})${diagnostic ? `: ${diagnostic}` : ''}`;
  }
  const code = shared.errorCodeOf(err);
  const message = err instanceof Error && err.message ? err.message : String(err);
  return code && !message.includes(code) ? `${message} [${code}]` : message;
}

export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  if (err instanceof TargetError) return shared.rescrub(err, ctx.secrets);
  let text = driverText(err).replace(/\s+/g, ' ');
  const hint = err instanceof ResultCodeError ? hints[err.code]?.(ctx) : undefined;
  if (hint) text += `. ${hint}`;
  return shared.targetError('ldap', ctx, text, isRetryable(err));
}
