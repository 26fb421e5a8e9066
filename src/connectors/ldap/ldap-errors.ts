// Turns whatever ldapts or the socket throws into a TargetError that names
// the operation and the account, says whether retrying can help, and carries
// no secret. The driver error is not attached as `cause`: its properties
// would travel into logs with it.

import { ResultCodeError } from 'ldapts';
import { TargetError } from '../../core/errors.js';
import { scrub } from '../../core/scrub.js';

export interface ErrorContext {
  target: string;
  operation: string;
  account?: string;
  /** Every secret that may appear in driver text: the password, its verifier, the admin secret. */
  secrets: readonly string[];
}

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

// ldapts raises these as plain Errors when a connection cannot be made in
// time, dies under an operation, or an operation times out.
const retryableDriverText = /Connection timeout|Connection closed before message response|Socket error|Operation timed out|socket hang up/i;

const hints: Partial<Record<number, (ctx: ErrorContext) => string>> = {
  [resultCodes.invalidCredentials]: () => 'the target refused the admin credential',
  [resultCodes.insufficientAccessRights]: () =>
    'the admin credential lacks a right this needs (see src/connectors/ldap/README.md for the ACLs)',
  [resultCodes.undefinedAttributeType]: () =>
    'the directory does not know an attribute Stint writes; for pwdEndTime load slapo-ppolicy, or set `expiry: none`',
  [resultCodes.objectClassViolation]: (ctx) =>
    ctx.operation === 'revokeFromAccount' || ctx.operation === 'removeAccount'
      ? 'a groupOfNames/groupOfUniqueNames must keep at least one member; give the group a placeholder member'
      : 'the entry does not satisfy its object classes',
};

export function isResultCode(err: unknown, code: number): boolean {
  return err instanceof ResultCodeError && err.code === code;
}

function nodeCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  // Node reports a failed multi-address connect as an AggregateError.
  if (Array.isArray(e.errors)) for (const inner of e.errors) {
    const c = nodeCode(inner);
    if (c) return c;
  }
  return undefined;
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof TargetError) return err.retryable;
  if (err instanceof ResultCodeError) return retryableResultCodes.has(err.code);
  const code = nodeCode(err);
  if (code !== undefined && retryableNodeCodes.has(code)) return true;
  const message = err instanceof Error ? err.message : String(err);
  return retryableDriverText.test(message);
}

/** The message prefix every connector error starts with. */
export function describeOperation(ctx: Pick<ErrorContext, 'target' | 'operation' | 'account'>): string {
  const who = ctx.account === undefined ? '' : ` of account ${JSON.stringify(ctx.account)}`;
  return `ldap target ${JSON.stringify(ctx.target)}: ${ctx.operation}${who} failed`;
}

/** Removes every secret, in the forms it may take in text (raw, JSON-escaped), from `text`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  const forms = secrets.filter((s) => s.length > 0).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  // Longest first, so a secret that contains another is removed whole.
  forms.sort((a, b) => b.length - a.length);
  let out = text;
  for (const f of forms) out = out.split(f).join('[redacted]');
  // Shapes of secrets that were not passed in (a URL with credentials, `password=...`).
  return scrub(out);
}

function driverText(err: unknown): string {
  if (err instanceof ResultCodeError) {
    // ldapts appends " Code: 0x.." to the server's diagnostic message.
    const diagnostic = err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
    // ldapts resets the prototype of its result errors, so the class name says nothing: name the code here.
    const name = resultCodeNames.get(err.code) ?? 'LDAP error';
    return `${name} (LDAP result ${err.code})${diagnostic ? `: ${diagnostic}` : ''}`;
  }
  const code = nodeCode(err);
  const message = err instanceof Error && err.message ? err.message : String(err);
  return code && !message.includes(code) ? `${message} [${code}]` : message;
}

export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  if (err instanceof TargetError) {
    // Raised by the connector itself; still scrubbed, in case a caller put text in it.
    return new TargetError(err.target, scrubSecrets(err.message, ctx.secrets), err.retryable);
  }
  let text = driverText(err).replace(/\s+/g, ' ');
  const hint = err instanceof ResultCodeError ? hints[err.code]?.(ctx) : undefined;
  if (hint) text += `. ${hint}`;
  return new TargetError(ctx.target, scrubSecrets(`${describeOperation(ctx)}: ${text}`, ctx.secrets), isRetryable(err));
}
