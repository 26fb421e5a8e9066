// Keystone's answers turned into TargetErrors: what the status means here,
// retryable or not, scrubbed of every secret. Keystone answers 404 where a
// client expects 401 (a deleted application credential, a token of a deleted
// user), so those get a message of their own.

import { TargetError } from '../../core/errors.js';
import * as shared from '../errors.js';
import type { ErrorContext } from '../errors.js';

/** Keystone's own error text, `{"error": {"message": …}}`, if any. */
function keystoneMessage(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const e = (body as { error?: unknown }).error;
  if (typeof e !== 'object' || e === null) return null;
  const m = (e as { message?: unknown }).message;
  return typeof m === 'string' ? m.slice(0, 500) : null;
}

/** An HTTP answer Keystone gave that the caller did not expect. */
export class KeystoneHttpError extends Error {
  constructor(
    readonly status: number,
    readonly what: string,
    readonly keystoneText: string | null,
  ) {
    super(`${what}: Keystone answered ${status}${keystoneText ? ` (${keystoneText})` : ''}`);
  }
}

export function httpError(status: number, what: string, body: unknown): KeystoneHttpError {
  return new KeystoneHttpError(status, what, keystoneMessage(body));
}

/** Whether retrying later can help. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

function explain(e: KeystoneHttpError): string {
  switch (e.status) {
    case 401:
      return `${e.what}: the credential was refused (401)${e.keystoneText ? `: ${e.keystoneText}` : ''}`;
    case 403:
      return `${e.what}: the admin credential is not allowed to do this (403, check the admin's role and scope: adminScope system for enforce_scope)${e.keystoneText ? `: ${e.keystoneText}` : ''}`;
    case 404:
      return `${e.what}: not found (404)${e.keystoneText ? `: ${e.keystoneText}` : ''}`;
    case 409:
      return `${e.what}: conflict (409)${e.keystoneText ? `: ${e.keystoneText}` : ''}`;
    default:
      return e.message;
  }
}

/** The final error: prefixed, scrubbed, retryable when the target may answer better later. */
export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  if (err instanceof TargetError) return shared.rescrub(err, ctx.secrets);
  if (err instanceof KeystoneHttpError) return shared.targetError('keystone', ctx, explain(err), retryableStatus(err.status));
  if (shared.isNetworkError(err)) return shared.targetError('keystone', ctx, `Keystone is unreachable (${shared.errorCodeOf(err)})`, true);
  const text = err instanceof Error ? err.message : String(err);
  // TLS failures (an unknown CA, a wrong host name) will not heal by retrying.
  const tls = /certificate|self.signed|CERT_|SSL|TLS/i.test(text);
  return shared.targetError('keystone', ctx, tls ? `TLS: ${text} (set caFile to the CA that signs Keystone's certificate)` : text, !tls);
}

/** A message for a user token or application credential Keystone no longer accepts (404 on a deleted one). */
export function refusedCredential(status: number): string {
  if (status === 404) return 'Keystone no longer knows this credential (404: the user or application credential was deleted)';
  if (status === 401) return 'Keystone refused the credential (401: wrong secret, expired, or no role on the scope)';
  return `Keystone refused the credential (${status})`;
}
