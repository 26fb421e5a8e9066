import { readsEverything } from '../../core/identity/roles.js';
import { z } from 'zod';
import { formatDuration } from '../../core/duration.js';
import { coversProfile, effectiveMaxMs, isSubject } from '../../core/policy/evaluate.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { meView, profileView, type ProfileView } from '../views/index.js';

export function profileRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'GET',
      url: '/v1/me',
      tag: 'identity',
      auth: 'user',
      summary: 'Who the token belongs to',
      response: meView,
      handler: async ({ actor }) => ({ user: actor.name, groups: actor.groups, admin: actor.admin, roles: actor.roles, accounts: actor.accounts }),
    }),
    route({
      method: 'GET',
      url: '/v1/profiles',
      tag: 'profiles',
      auth: 'user',
      summary: 'Profiles, with what it takes for the caller to request each (admins see all; others see those a policy lets them request)',
      query: z.object({ all: z.enum(['true', 'false']).optional() }).strict(),
      response: z.object({ profiles: z.array(profileView) }),
      handler: async ({ actor, query }) => {
        const catalog = deps.catalog();
        const out: ProfileView[] = [];
        for (const p of [...catalog.profiles.values()].sort((a, b) => a.name.localeCompare(b.name))) {
          const applicable = catalog.policies.filter((pol) => isSubject(pol, actor) && coversProfile(pol, p.name));
          const allows = applicable.some((pol) => pol.effect === 'deny') ? [] : applicable.filter((pol) => pol.effect === 'allow');
          if (allows.length === 0 && !(readsEverything(actor) && query.all === 'true')) continue;
          const target = catalog.targets.get(p.target);
          const easiest = [...allows].sort(
            (a, b) => (a.approval.kind === 'auto' ? 0 : a.approval.count) - (b.approval.kind === 'auto' ? 0 : b.approval.count),
          )[0];
          const max = allows.length ? Math.max(...allows.map((pol) => effectiveMaxMs(pol, p))) : p.maxDurationMs;
          out.push({
            name: p.name,
            description: p.description,
            target: p.target,
            targetKind: target?.kind ?? 'unknown',
            critical: target?.critical ?? false,
            mode: p.mode,
            grants: p.grants,
            maxDuration: formatDuration(max),
            maxDurationMs: max,
            requestable: allows.length > 0,
            approval: !easiest
              ? 'none'
              : easiest.approval.kind === 'auto'
                ? 'auto'
                : `${easiest.approval.count} approval${easiest.approval.count > 1 ? 's' : ''}`,
            requireReason: easiest?.requireReason ?? false,
            requireTicket: easiest?.requireTicket ?? false,
          });
        }
        return { profiles: out };
      },
    }),
  ];
}
