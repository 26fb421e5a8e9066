// Break-glass activations and their reviews (core/request/break-glass-reviews.ts).

import { z } from 'zod';
import { createBreakGlassReviews } from '../../core/request/break-glass-reviews.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { commentSchema, grantIdParam, queryInt } from '../schemas.js';
import { reviewView, toReviewView } from '../views/index.js';

export function reviewRoutes(deps: ApiDeps) {
  const reviews = createBreakGlassReviews({ store: deps.store, clock: deps.clock });
  return [
    route({
      method: 'GET',
      url: '/v1/reviews',
      tag: 'grants',
      auth: 'user',
      summary: "Break-glass activations waiting for review (all=true: reviewed ones too), oldest first; admins and auditors see everyone's, others their own",
      query: z.object({ all: z.enum(['true', 'false']).default('false'), limit: queryInt({ min: 1, max: 5000 }).default(500) }).strict(),
      response: z.object({ reviews: z.array(reviewView) }),
      handler: async ({ actor, query }) => ({ reviews: (await reviews.list({ actor, open: query.all !== 'true', limit: query.limit })).map(toReviewView) }),
    }),
    route({
      method: 'POST',
      url: '/v1/grants/:id/review',
      tag: 'grants',
      auth: 'user',
      errors: ['forbidden', 'conflict'],
      summary: 'Record the review of a break-glass grant (admins and auditors; never its holder); once',
      params: grantIdParam,
      body: z.object({ comment: commentSchema }).strict(),
      response: z.object({ review: reviewView }),
      handler: async ({ actor, params, body }) => ({ review: toReviewView(await reviews.review({ actor, grantId: params.id, comment: body.comment })) }),
    }),
  ];
}
