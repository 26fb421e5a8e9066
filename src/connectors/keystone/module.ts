import type { ConnectorFactory } from '../contract.js';
import { createConnector } from '../kit/create.js';
import { defineModule, type ConnectorModule } from '../module.js';
import { openKeystone } from './connector.js';
import { checkGrant, isProtectedRole, parseGrant } from './grants.js';
import { checkName, keystoneSettingsSchema, keystoneSettingsShape } from './settings.js';

/**
 * Grants of a profile that give `admin` or a protected role without the
 * profile's `allowAdminRole: true`: in Keystone's legacy policy `admin` on any
 * project makes its holder an admin of the whole cloud.
 */
export function protectedRoleProblems(
  grants: readonly string[],
  protectedRoles: readonly string[],
  allowAdminRole: boolean,
): { index: number; message: string }[] {
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

export const keystoneModule: ConnectorModule = defineModule({
  kind: 'keystone',
  settings: keystoneSettingsShape,
  schema: keystoneSettingsSchema,
  modes: ['ephemeral-account', 'own-account'],
  checkGrant,
  // A person's own account is a user name in the target's userDomain.
  checkAccount: (a) => checkName('a Keystone user name', a),
  checkAdminUser: (u) => (u ? null : 'adminUser is required (a user name, or an application credential id with adminAuth: application-credential)'),
  checkProfile: (p, settings) => {
    const roles = Array.isArray(settings.protectedRoles) ? settings.protectedRoles.filter((r): r is string => typeof r === 'string') : [];
    return protectedRoleProblems(p.grants, roles, p.allowAdminRole === true);
  },
  open: openKeystone,
});

/** A keystone connector, as the broker makes one (settings parsed, operations wrapped). */
export const createKeystoneConnector: ConnectorFactory = (input) => createConnector(keystoneModule, input);
