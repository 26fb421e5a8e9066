import { readsEverything } from '../../core/identity/roles.js';
import { z } from 'zod';
import { forbidden, notFound } from '../../core/errors.js';
import { grantStatuses, liveGrantStatuses } from '../../core/types.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { durationSchema, grantIdParam, nameSchema, queryInt } from '../schemas.js';
import { credentialsView, grantView, toGrantView } from '../views/index.js';

export function grantRoutes(deps: ApiDeps) {
  const now = () => deps.clock.now();
  return [
    route({
      method: 'GET',
      url: '/v1/grants',
      tag: 'grants',
      auth: 'user',
      errors: ['forbidden'],
      summary: "Your grants that may hold access (default), or with history=true also ended ones; all=true lists everyone's (admins)",
      query: z
        .object({
          all: z.enum(['true', 'false']).default('false'),
          history: z.enum(['true', 'false']).default('false'),
          status: z.enum(grantStatuses).optional(),
          target: nameSchema.optional(),
          limit: queryInt({ min: 1, max: 5000 }).default(500),
        })
        .strict(),
      response: z.object({ grants: z.array(grantView) }),
      handler: async ({ actor, query }) => {
        if (query.all === 'true' && !readsEverything(actor)) throw forbidden('only admins and auditors may list every grant');
        const statuses = query.status ? [query.status] : query.history === 'true' ? undefined : liveGrantStatuses;
        const grants = await deps.store.listGrants({ user: query.all === 'true' ? undefined : actor.name, statuses, target: query.target, limit: query.limit });
        const t = now();
        return { grants: grants.map((g) => toGrantView(g, t)) };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/grants/:id',
      tag: 'grants',
      auth: 'user',
      summary: 'One grant (its owner or an admin)',
      params: grantIdParam,
      response: z.object({ grant: grantView }),
      handler: async ({ actor, params }) => {
        const g = await deps.grants.get(params.id);
        if (g.user !== actor.name && !readsEverything(actor)) throw notFound(`grant ${params.id} not found`);
        return { grant: toGrantView(g, now()) };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/grants/:id/credentials',
      tag: 'grants',
      auth: 'user',
      errors: ['forbidden', 'conflict'],
      summary: 'The credential of your active grant. The only response that carries a secret; audited.',
      params: grantIdParam,
      response: z.object({ credentials: credentialsView }),
      handler: async ({ actor, params, reply }) => {
        const c = await deps.grants.credentials({ grantId: params.id, actor });
        reply.header('cache-control', 'no-store');
        const keys = { privateKey: c.privateKey, publicKeys: c.publicKeys, login: c.login };
        return {
          credentials: { target: c.target, kind: c.kind, username: c.account, password: c.password, ...c.connection, connection: c.connection, ...keys },
        };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/grants/:id/extend',
      tag: 'grants',
      auth: 'user',
      errors: ['conflict'],
      summary: 'Extend an active grant (never past its maximum from activation)',
      params: grantIdParam,
      body: z.object({ by: durationSchema }).strict(),
      response: z.object({ grant: grantView }),
      handler: async ({ actor, params, body }) => ({ grant: toGrantView(await deps.grants.extend({ grantId: params.id, actor, byMs: body.by }), now()) }),
    }),
    route({
      method: 'POST',
      url: '/v1/grants/:id/revoke',
      tag: 'grants',
      auth: 'user',
      errors: ['conflict'],
      summary:
        "Check in your grant, or revoke anyone's (admins). Answers once the target confirmed (revoked) or with revoke-failing (retried until it succeeds)",
      params: grantIdParam,
      response: z.object({ grant: grantView }),
      handler: async ({ actor, params }) => ({ grant: toGrantView(await deps.grants.revoke({ grantId: params.id, actor }), now()) }),
    }),
  ];
}
