import type { ConnectorModule } from '../module.js';
import { checkGrant, isProtectedRole, parseGrant } from './grants.js';
import { createKeystoneConnector } from './keystone-connector.js';
import { checkName, keystoneSettingsShape } from './settings.js';

/**
 * Grants of a profile that give `admin` or a protected role without the
 * profile's `allowAdminRole: true`: in Keystone's legacy policy `admin` on any
 * project makes its holder an admin of the whole cloud.
 */
export function protectedRoleProblems(grants: readonly string[], protectedRoles: readonly string[], allowAdminRole: boolean): { index: number; message: string }[] {
  if (allowAdminRole) return [];
  const out: { index: number; message: string }[] = [];
  grants.forEach((g, index) => {
    if (checkGrant(g) !== null) return;
    const role = parseGrant(g).role.value;
    if (isProtectedRole(role, protectedRoles)) {
      out.push({
        index,
        message: `${JSON.stringify(g)} gives the protected role ${JSON.stringify(role)}${role.toLowerCase() === 'admin' ? ' (in the legacy policy, admin on any project is admin of the whole cloud)' : ''}; set allowAdminRole: true on the profile if this is meant`,
      });
    }
  });
  return out;
}

export const keystoneModule: ConnectorModule = {
  kind: 'keystone',
  settings: keystoneSettingsShape,
  modes: ['ephemeral-account', 'own-account'],
  checkGrant,
  // A person's own account is a user name in the target's userDomain.
  checkAccount: (a) => checkName('a Keystone user name', a),
  checkProfile: (p, settings) => {
    const roles = Array.isArray(settings.protectedRoles) ? settings.protectedRoles.filter((r): r is string => typeof r === 'string') : [];
    return protectedRoleProblems(p.grants, roles, p.allowAdminRole === true);
  },
  create: createKeystoneConnector,
};
