import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import { formatCheckpoint, parseCheckpoint } from '../../core/audit/chain.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { isoTime, nameSchema, queryInt } from '../schemas.js';
import { auditPageView, toAuditView, verifyView } from '../views/index.js';

export function auditRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'GET', url: '/v1/audit', tag: 'audit', auth: 'user', errors: ['forbidden'],
      summary: 'Audit events in order (admins: all; others: events about themselves). Page with afterSeq.',
      query: z.object({
        since: isoTime.optional(), until: isoTime.optional(),
        afterSeq: queryInt({ min: 0, max: Number.MAX_SAFE_INTEGER }).optional(),
        action: z.string().max(64).regex(/^[a-z.-]+$/, 'must be an action name like grant.revoked').optional(),
        user: nameSchema.optional(), target: nameSchema.optional(),
        limit: queryInt({ min: 1, max: 5000 }).default(500),
      }).strict(),
      response: auditPageView,
      handler: async ({ actor, query }) => {
        const events = await deps.audit.list({ actor, filter: { since: query.since, until: query.until, afterSeq: query.afterSeq, action: query.action, subjectUser: query.user, target: query.target, limit: query.limit } });
        const head = await deps.audit.head();
        return { events: events.map(toAuditView), head: head ? formatCheckpoint(head) : null };
      },
    }),
    route({
      method: 'GET', url: '/v1/audit/verify', tag: 'audit', auth: 'user', errors: ['conflict'],
      summary: 'Verify the hash chain; with checkpoint=SEQ:HASH (from an earlier verify) also detect truncation',
      query: z.object({ checkpoint: z.string().max(100).optional() }).strict(),
      response: verifyView,
      handler: async ({ query }) => {
        const cp = query.checkpoint === undefined ? undefined : parseCheckpoint(query.checkpoint);
        if (cp === null) throw invalid('checkpoint must look like SEQ:HASH (a number, a colon, 64 hex digits), as printed by an earlier verify');
        const r = await deps.audit.verify(cp);
        return r.ok
          ? { ok: true, events: r.events, head: r.head ? formatCheckpoint(r.head) : null, firstBadSeq: null, problem: null }
          : { ok: false, events: r.events, head: null, firstBadSeq: r.firstBadSeq, problem: r.problem };
      },
    }),
  ];
}
