import { readsEverything } from '../../core/identity/roles.js';
import { z } from 'zod';
import { formatDuration } from '../../core/duration.js';
import { coversProfile, effectiveMaxMs, isSubject } from '../../core/policy/evaluate.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';

const profileView = z.object({
  name: z.string(),
  description: z.string(),
  target: z.string(),
  targetKind: z.string(),
  critical: z.boolean(),
  mode: z.enum(['ephemeral-account', 'own-account']),
  grants: z.array(z.string()),
  maxDuration: z.string(),
  maxDurationMs: z.number(),
  requestable: z.boolean(),
  approval: z.string().describe('"auto", or "N approval(s)"; "none" when no policy lets you request it'),
  requireReason: z.boolean(),
  requireTicket: z.boolean(),
});

export function profileRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'GET', url: '/v1/me', tag: 'identity', auth: 'user', summary: 'Who the token belongs to',
      response: z.object({ user: z.string(), groups: z.array(z.string()), admin: z.boolean(), roles: z.array(z.enum(['admin', 'auditor'])), accounts: z.record(z.string(), z.string()) }),
      handler: async ({ actor }) => ({ user: actor.name, groups: actor.groups, admin: actor.admin, roles: actor.roles, accounts: actor.accounts }),
    }),
    route({
      method: 'GET', url: '/v1/profiles', tag: 'profiles', auth: 'user',
      summary: 'Profiles, with what it takes for the caller to request each (admins see all; others see those a policy lets them request)',
      query: z.object({ all: z.enum(['true', 'false']).optional() }).strict(),
      response: z.object({ profiles: z.array(profileView) }),
      handler: async ({ actor, query }) => {
        const catalog = deps.catalog();
        const out: z.infer<typeof profileView>[] = [];
        for (const p of [...catalog.profiles.values()].sort((a, b) => a.name.localeCompare(b.name))) {
          const applicable = catalog.policies.filter((pol) => isSubject(pol, actor) && coversProfile(pol, p.name));
          const allows = applicable.some((pol) => pol.effect === 'deny') ? [] : applicable.filter((pol) => pol.effect === 'allow');
          if (allows.length === 0 && !(readsEverything(actor) && query.all === 'true')) continue;
          const target = catalog.targets.get(p.target);
          const easiest = [...allows].sort((a, b) => (a.approval.kind === 'auto' ? 0 : a.approval.count) - (b.approval.kind === 'auto' ? 0 : b.approval.count))[0];
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
            approval: !easiest ? 'none' : easiest.approval.kind === 'auto' ? 'auto' : `${easiest.approval.count} approval${easiest.approval.count > 1 ? 's' : ''}`,
            requireReason: easiest?.requireReason ?? false,
            requireTicket: easiest?.requireTicket ?? false,
          });
        }
        return { profiles: out };
      },
    }),
  ];
}
