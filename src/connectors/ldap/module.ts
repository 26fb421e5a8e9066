import type { ConnectorFactory } from '../contract.js';
import { createConnector } from '../kit/create.js';
import type { ConnectorModule } from '../module.js';
import { defineModule } from '../module.js';
import { isDN, parseDN } from './dn.js';
import { openLdap } from './connector.js';
import { ldapSettingsSchema, ldapSettingsShape } from './settings.js';

/** Why `s` is not a usable DN, or null. */
function checkDN(what: string, s: string): string | null {
  if (!isDN(s)) return `${what} must be a DN (RFC 4514), e.g. "cn=app-readers,ou=groups,dc=example,dc=com"`;
  if (s.includes('\0')) return `${what} must not contain a NUL character`;
  // Checked at the edge so a typo shows in the config file, not at revoke time.
  if (parseDN(s).some((rdn) => rdn.some((a) => a.value === ''))) return `${what} has an empty attribute value`;
  return null;
}

export const ldapModule: ConnectorModule = defineModule({
  kind: 'ldap',
  settings: ldapSettingsShape,
  schema: ldapSettingsSchema,
  modes: ['ephemeral-account', 'own-account'],
  // A grant is the DN of a groupOfNames or groupOfUniqueNames group.
  checkGrant: (g) => checkDN('a grant', g),
  // A person's own account is named by its DN (what they bind with).
  checkAccount: (a) => checkDN('an LDAP account', a),
  checkAdminUser: (u) => (isDN(u) ? null : 'the admin user must be a bind DN'),
  open: openLdap,
});

/** An ldap connector, as the broker makes one (settings parsed, operations wrapped). */
export const createLdapConnector: ConnectorFactory = (input) => createConnector(ldapModule, input);
