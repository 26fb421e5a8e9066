import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { commentSchema, durationSchema, freeText, nameSchema, queryInt, reasonSchema, requestIdParam } from '../schemas.js';
import { requestStatuses } from '../../core/types.js';
import { outcomeView as outcome, requestDetailView, requestView, toApprovalView, toGrantView, toRequestView } from '../views/index.js';

export function requestRoutes(deps: ApiDeps) {
  const now = () => deps.clock.now();
  const asOutcome = (o: { request: Parameters<typeof toRequestView>[0]; grant: Parameters<typeof toGrantView>[0] | null }) => ({
    request: toRequestView(o.request),
    grant: o.grant ? toGrantView(o.grant, now()) : null,
  });
  return [
    route({
      method: 'POST',
      url: '/v1/requests',
      tag: 'requests',
      auth: 'user',
      status: 201,
      errors: ['forbidden', 'denied', 'not_found', 'conflict'],
      summary:
        "Request a profile for a time. Auto-approved requests return the active grant. breakGlass: activate without approval (members of the profile's breakGlass groups, reason required; alerted and reviewed after)",
      body: z
        .object({
          profile: nameSchema,
          duration: durationSchema,
          reason: reasonSchema.nullish(),
          ticket: freeText(200).nullish(),
          breakGlass: z.boolean().optional(),
        })
        .strict(),
      response: outcome,
      handler: async ({ actor, body }) =>
        asOutcome(
          await deps.requests.create({
            actor,
            profile: body.profile,
            durationMs: body.duration,
            reason: body.reason ?? null,
            ticket: body.ticket ?? null,
            breakGlass: body.breakGlass === true,
          }),
        ),
    }),
    route({
      method: 'GET',
      url: '/v1/requests',
      tag: 'requests',
      auth: 'user',
      errors: ['forbidden'],
      summary: 'List requests: your own (default), those you may approve (scope=approvable), or all (admins)',
      query: z
        .object({
          scope: z.enum(['mine', 'approvable', 'all']).default('mine'),
          status: z.enum(requestStatuses).optional(),
          limit: queryInt({ min: 1, max: 1000 }).default(200),
        })
        .strict(),
      response: z.object({ requests: z.array(requestView) }),
      handler: async ({ actor, query }) => ({
        requests: (await deps.requests.list({ actor, scope: query.scope, statuses: query.status ? [query.status] : undefined, limit: query.limit })).map(
          toRequestView,
        ),
      }),
    }),
    route({
      method: 'GET',
      url: '/v1/requests/:id',
      tag: 'requests',
      auth: 'user',
      summary: 'One request with its approvals',
      params: requestIdParam,
      response: requestDetailView,
      handler: async ({ actor, params }) => {
        const r = await deps.requests.get({ actor, requestId: params.id });
        return { request: toRequestView(r.request), approvals: r.approvals.map(toApprovalView) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/requests/:id/approve',
      tag: 'requests',
      auth: 'user',
      errors: ['conflict'],
      summary: 'Approve a pending request (never your own)',
      params: requestIdParam,
      body: z.object({ comment: commentSchema.nullish() }).strict().default({}),
      response: outcome,
      handler: async ({ actor, params, body }) => asOutcome(await deps.requests.approve({ actor, requestId: params.id, comment: body.comment ?? null })),
    }),
    route({
      method: 'POST',
      url: '/v1/requests/:id/deny',
      tag: 'requests',
      auth: 'user',
      errors: ['conflict'],
      summary: 'Deny a pending request, with a comment',
      params: requestIdParam,
      body: z.object({ comment: commentSchema.min(1, 'a comment is required to deny a request') }).strict(),
      response: outcome,
      handler: async ({ actor, params, body }) => asOutcome(await deps.requests.deny({ actor, requestId: params.id, comment: body.comment })),
    }),
    route({
      method: 'POST',
      url: '/v1/requests/:id/cancel',
      tag: 'requests',
      auth: 'user',
      errors: ['conflict'],
      summary: 'Cancel your pending request',
      params: requestIdParam,
      response: z.object({ request: requestView }),
      handler: async ({ actor, params }) => ({ request: toRequestView(await deps.requests.cancel({ actor, requestId: params.id })) }),
    }),
  ];
}
