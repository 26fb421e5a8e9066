// Turns whatever ldapts, TLS or the socket throws into a TargetError that
// names the operation and the account, says whether retrying can help, and
// carries no secret. AD's diagnostic text ("0000052D: … check_password_
// restrictions …", "AcceptSecurityContext error, data 52e") is kept: it says
// what the DC refused. The driver error is never attached as `cause`.

import { ResultCodeError } from 'ldapts';
import { TargetError } from '../../core/errors.js';
import * as shared from '../errors.js';
import type { ErrorContext } from '../errors.js';
import { isRetryable, resultCodes } from '../ldap/errors.js';

export { isResultCode, resultCodes } from '../ldap/errors.js';

const resultCodeNames = new Map<number, string>(Object.entries(resultCodes).map(([k, v]) => [v, k]));

const hints: Partial<Record<number, string>> = {
  [resultCodes.invalidCredentials]: 'the domain controller refused the service account credential',
  [resultCodes.insufficientAccessRights]: 'the service account lacks a right this needs (see src/connectors/ad/README.md, "Service account")',
  [resultCodes.constraintViolation]: 'the domain controller refused a value (for a password: the domain password policy)',
};

// Certificate problems are configuration, not outages: retrying cannot help.
const tlsConfigCodes = /CERT_|UNABLE_TO_VERIFY|SELF_SIGNED|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH|DEPTH_ZERO/;

export function isAdRetryable(err: unknown): boolean {
  const code = shared.errorCodeOf(err);
  if (code && tlsConfigCodes.test(code)) return false;
  return isRetryable(err);
}

function driverText(err: unknown): string {
  if (err instanceof ResultCodeError) {
    const diagnostic = err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
    const name = resultCodeNames.get(err.code) ?? 'LDAP error';
    return `${name} (LDAP result ${err.code})${diagnostic ? `: ${diagnostic}` : ''}`;
  }
  const code = shared.errorCodeOf(err);
  const message = err instanceof Error && err.message ? err.message : String(err);
  let text = code && !message.includes(code) ? `${message} [${code}]` : message;
  if (code && tlsConfigCodes.test(code)) text += '. Check caFile and tlsServerName (src/connectors/ad/README.md, "TLS")';
  return text;
}

export function toTargetError(ctx: ErrorContext, err: unknown): TargetError {
  if (err instanceof TargetError) return shared.rescrub(err, ctx.secrets);
  let text = driverText(err).replace(/\s+/g, ' ');
  const hint = err instanceof ResultCodeError ? hints[err.code] : undefined;
  if (hint) text += `. ${hint}`;
  return shared.targetError('ad', ctx, text, isAdRetryable(err));
}
