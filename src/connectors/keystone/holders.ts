// Standing privileges on Keystone: everyone holding a profile's role on its
// project, with the effective role assignments (group assignments expanded to
// their members, as Keystone itself evaluates them when it issues a token).

import { z } from 'zod';
import type { Holder } from '../contract.js';
import { path } from './http.js';
import type { KeystoneApi } from './keystone-api.js';

export interface HolderDeps {
  api: KeystoneApi;
  marker: string;
  /** Users read during one listing, by id. */
  users: Map<string, Record<string, unknown> | null>;
  /** Users of these domains are reported by bare name (the others as name@domain). */
  userDomainId: string;
  ephemeralDomainId: string;
}

const groupSchema = z.object({ group: z.object({ name: z.string() }) });
const userSchema = z.object({ user: z.object({ id: z.string() }).passthrough() });

/** The user attribute marking an own account's assignment as one Stint added (connector.ts). */
export const assignmentMark = (roleId: string, projectId: string) => `stint_assignment_${roleId}_${projectId}`;

/** Holders of one resolved grant (role id on project id); `grant` is the profile's text for it. */
export async function holdersOf(d: HolderDeps, grant: string, roleId: string, projectId: string, groupNames: Map<string, string>): Promise<Holder[]> {
  const adminId = await d.api.adminUserId();
  const out: Holder[] = [];
  for (const a of await d.api.assignments({ 'role.id': roleId, 'scope.project.id': projectId, effective: 'true', include_names: 'true' })) {
    if (!a.user || a.user.id === adminId) continue;
    const name = a.user.name ?? a.user.id;
    const domainId = a.user.domain?.id;
    const account = domainId === d.userDomainId || domainId === d.ephemeralDomainId ? name : `${name}@${a.user.domain?.name ?? domainId}`;
    // An effective assignment through a group links to the membership it comes from.
    const groupId = a.links?.membership?.match(/\/groups\/([^/]+)\/users\//)?.[1];
    let via: string[] | undefined;
    if (groupId) {
      const gid = decodeURIComponent(groupId);
      if (!groupNames.has(gid)) groupNames.set(gid, (await d.api.getJson(path('groups', gid), groupSchema, 'reading a group'))?.group.name ?? gid);
      via = [groupNames.get(gid)!];
    }
    if (via) {
      out.push({ account, grant, managed: false, grantedByStint: false, via });
      continue;
    }
    const id = a.user.id;
    if (!d.users.has(id)) d.users.set(id, (await d.api.getJson(path('users', id), userSchema, 'reading a user'))?.user ?? null);
    const user = d.users.get(id);
    const managed = domainId === d.ephemeralDomainId && user?.description === d.marker;
    // Only Stint's mark tells: Keystone keeps no record of who made an assignment.
    out.push({ account, grant, managed, grantedByStint: managed ? null : user?.[assignmentMark(roleId, projectId)] === true });
  }
  return out;
}
