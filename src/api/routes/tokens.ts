import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { durationSchema, freeText, nameSchema, tokenIdParam } from '../schemas.js';
import { connectTokenView, issuedTokenView, toTokenView, tokenView } from '../views/index.js';

export function tokenRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'POST',
      url: '/v1/tokens',
      tag: 'tokens',
      auth: 'user',
      status: 201,
      errors: ['forbidden', 'not_found'],
      summary: 'Issue an API token: for yourself, or (admins) for a service user. The secret is in this response only; Stint keeps its hash.',
      // ttl: how long the token lives (default 90d, at most 365d).
      body: z.object({ user: nameSchema, description: freeText(200).nullish(), ttl: durationSchema.optional() }).strict(),
      response: issuedTokenView,
      handler: async ({ actor, body, reply }) => {
        const r = await deps.tokens.create({ actor, user: body.user, description: body.description ?? null, ttlMs: body.ttl });
        reply.header('cache-control', 'no-store');
        return { token: toTokenView(r.token), secret: r.secret };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/connect-tokens',
      tag: 'tokens',
      auth: 'user',
      status: 201,
      errors: ['not_found'],
      summary: 'A one-time token to log in to the PostgreSQL gateway as yourself for one profile, within 2 minutes (stint connect PROFILE). Not an API token.',
      body: z.object({ profile: nameSchema }).strict(),
      response: connectTokenView,
      handler: async ({ actor, body, reply }) => {
        const r = await deps.tokens.issueConnectToken({ actor, profile: body.profile });
        reply.header('cache-control', 'no-store');
        return { token: r.secret, expiresAt: new Date(r.expiresAt).toISOString(), user: actor.name, profile: body.profile };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/tokens',
      tag: 'tokens',
      auth: 'user',
      errors: ['forbidden'],
      summary: "Your tokens (admins: everyone's, or one user's)",
      query: z.object({ user: nameSchema.optional() }).strict(),
      response: z.object({ tokens: z.array(tokenView) }),
      handler: async ({ actor, query }) => ({ tokens: (await deps.tokens.list({ actor, user: query.user })).map(toTokenView) }),
    }),
    route({
      method: 'DELETE',
      url: '/v1/tokens/:id',
      tag: 'tokens',
      auth: 'user',
      summary: 'Revoke a token (yours, or any as admin)',
      params: tokenIdParam,
      response: z.object({ revoked: z.literal(true) }),
      handler: async ({ actor, params }) => {
        await deps.tokens.revoke({ actor, tokenId: params.id });
        return { revoked: true as const };
      },
    }),
  ];
}
