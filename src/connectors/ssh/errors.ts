// Turns anything the ssh connector throws into a TargetError that names the
// operation and account, says whether retrying can help, and carries no
// secret. The original error is not attached as `cause`: its properties
// (command lines, key material) would travel into logs with it.

import { TargetError } from '../../core/errors.js';
import { describeOperation, type ErrorContext } from '../errors.js';
import { SshTransportError } from './ssh-exec.js';

export type { ErrorContext } from '../errors.js';

function forms(secret: string): string[] {
  // Raw, single-quote shell escaped, JSON-escaped, and each line of a
  // multi-line key (a PEM body line is itself secret).
  const out = [secret, secret.replace(/'/g, `'\\''`), JSON.stringify(secret).slice(1, -1)];
  for (const line of secret.split('\n')) if (line.trim().length >= 16 && !/^-----/.test(line.trim())) out.push(line.trim());
  return out;
}

export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  const all = secrets
    .filter((s) => s.length >= 4)
    .flatMap(forms)
    .sort((a, b) => b.length - a.length);
  for (const f of all) out = out.split(f).join('[redacted]');
  // A private key that is not known here still never leaves in full.
  return out.replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[redacted private key]');
}

/** `secrets` holds every secret that may appear in text: the account secret, the admin key. */
export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  const prefix = describeOperation('ssh', ctx);
  if (err instanceof TargetError) return new TargetError(err.target, scrubText(err.message, ctx.secrets), err.retryable);
  if (err instanceof SshTransportError) return new TargetError(ctx.target, scrubText(`${prefix}: ${err.message}`, ctx.secrets), err.retryable);
  const message = err instanceof Error ? err.message : String(err);
  return new TargetError(ctx.target, scrubText(`${prefix}: ${message}`, ctx.secrets), false);
}
