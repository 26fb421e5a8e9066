import type { ConnectorModule } from '../module.js';
import { isDN, parseDN } from '../ldap/dn.js';
import { createAdConnector } from './ad-connector.js';
import { isPlainSam } from './ad-values.js';
import { adSettingsShape } from './settings.js';

/** Why `s` is not a DN with non-empty values, or null. */
function dnProblem(s: string): string | null {
  if (!isDN(s)) return 'is not a valid DN (RFC 4514)';
  if (parseDN(s).some((rdn) => rdn.some((a) => a.value === ''))) return 'has an empty attribute value';
  return null;
}

const UPN = /^[^@\s\0\\]{1,256}@[A-Za-z0-9.-]{1,253}$/;

export const adModule: ConnectorModule = {
  kind: 'ad',
  settings: adSettingsShape,
  modes: ['ephemeral-account', 'own-account'],
  // A grant is a group: its DN, or its sAMAccountName (pre-Windows 2000 name, at most 256 here; AD allows 256 for groups).
  checkGrant: (g) => {
    if (g.includes('=')) {
      const why = dnProblem(g);
      return why ? `a group DN ${why}, e.g. "CN=SQL Admins,OU=Groups,DC=corp,DC=example"` : null;
    }
    if (g.length > 256 || /["/\\[\]:;|=,+*?<>\0]/.test(g) || g.trim() !== g || g === '') {
      return 'must be a group DN or sAMAccountName (no " / \\ [ ] : ; | = , + * ? < >, no leading or trailing space)';
    }
    return null;
  },
  // A person's own user: sAMAccountName, userPrincipalName (name@domain) or DN.
  checkAccount: (a) => {
    if (a.includes('=')) {
      const why = dnProblem(a);
      return why ? `an AD account DN ${why}` : null;
    }
    if (a.includes('@')) return UPN.test(a) ? null : 'an AD userPrincipalName must look like name@corp.example';
    return isPlainSam(a) ? null : 'an AD account must be a sAMAccountName (at most 20 characters, none of " / \\ [ ] : ; | = , + * ? < > @), a userPrincipalName or a DN';
  },
  create: createAdConnector,
};
