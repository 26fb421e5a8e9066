// Roles: what a person may do in Stint itself, given through groups (config
// `roles:`). Approving is never a role: only a policy names approvers.
//
//   admin    tokens for service users, revoke anyone's grant, reconcile, admin pages
//   auditor  reads every request, grant, audit event, gateway session and report; changes nothing

export const allRoles = ['admin', 'auditor'] as const;
export type Role = (typeof allRoles)[number];

/** Which groups give which role. A role left out is given to no group. */
export type RolesConfig = Partial<Record<Role, { groups: readonly string[] }>>;

/**
 * The roles of a person: from their groups, and `admin` also from a config
 * user's `admin: true` (kept from before roles existed). Sorted, no duplicates.
 */
export function rolesFor(user: { groups: readonly string[]; admin?: boolean }, roles: RolesConfig): Role[] {
  return allRoles.filter((role) => (role === 'admin' && user.admin === true) || (roles[role]?.groups ?? []).some((g) => user.groups.includes(g)));
}

type WithRoles = { roles?: readonly Role[]; admin?: boolean };

export function isAdmin(u: WithRoles): boolean {
  return u.admin === true || (u.roles ?? []).includes('admin');
}

/** Admins and auditors read everyone's requests, grants, sessions and audit events. */
export function readsEverything(u: WithRoles): boolean {
  return isAdmin(u) || (u.roles ?? []).includes('auditor');
}

/**
 * An auditor who is not also an admin changes nothing but what is their own
 * (their own requests, grants, tokens and keys), and never decides others' requests.
 */
export function isAuditor(u: WithRoles): boolean {
  return (u.roles ?? []).includes('auditor');
}
