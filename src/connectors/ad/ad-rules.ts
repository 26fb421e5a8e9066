// What an `ad` grant and account name may be: checked in the config file
// (module.ts) and again before each operation (the kit's operation wrapper).

import type { OperationName } from '../kit/operation.js';
import { isDN, parseDN } from '../ldap/dn.js';
import { isPlainSam } from './ad-values.js';

/** cn's upper bound in the AD schema. */
const MAX_NAME_LENGTH = 64;

const UPN = /^[^@\s\0\\]{1,256}@[A-Za-z0-9.-]{1,253}$/;

/** Why `s` is not a DN with non-empty values, or null. */
function dnProblem(s: string): string | null {
  if (!isDN(s)) return 'is not a valid DN (RFC 4514)';
  if (parseDN(s).some((rdn) => rdn.some((a) => a.value === ''))) return 'has an empty attribute value';
  return null;
}

/** Why an ephemeral account name is unusable, or null. */
export function checkEphemeralName(name: string): string | null {
  if (name.length === 0) return 'must not be empty';
  if ([...name].length > MAX_NAME_LENGTH) return `longer than ${MAX_NAME_LENGTH} characters (the cn limit of Active Directory)`;
  if (name.includes('\0')) return 'must not contain a NUL character';
  if (/\p{Cs}/u.test(name)) return 'must be well-formed Unicode';
  return null;
}

/** A grant is a group: its DN, or its sAMAccountName (at most 256 here; AD allows 256 for groups). */
export function checkGrant(g: string): string | null {
  if (g.includes('=')) {
    const why = dnProblem(g);
    return why ? `a group DN ${why}, e.g. "CN=SQL Admins,OU=Groups,DC=corp,DC=example"` : null;
  }
  if (g.length > 256 || /["/\\[\]:;|=,+*?<>\0]/.test(g) || g.trim() !== g || g === '') {
    return 'must be a group DN or sAMAccountName (no " / \\ [ ] : ; | = , + * ? < >, no leading or trailing space)';
  }
  return null;
}

/** A person's own user in the config file: sAMAccountName, userPrincipalName (name@domain) or DN. */
export function checkOwnAccount(a: string): string | null {
  if (a.includes('=')) {
    const why = dnProblem(a);
    return why ? `an AD account DN ${why}` : null;
  }
  if (a.includes('@')) return UPN.test(a) ? null : 'an AD userPrincipalName must look like name@corp.example';
  return isPlainSam(a)
    ? null
    : 'an AD account must be a sAMAccountName (at most 20 characters, none of " / \\ [ ] : ; | = , + * ? < > @), a userPrincipalName or a DN';
}

/**
 * The account of a request: an ephemeral account is created by a plain name
 * (its cn); other operations also take an own user's DN.
 */
export function checkRequestAccount(account: string, operation: OperationName): string | null {
  if (isDN(account)) return operation === 'createAccount' ? 'an ephemeral account is named by a plain name, not a DN' : null;
  const why = checkEphemeralName(account);
  return why ? `account name ${why}` : null;
}
