// Gateway sessions: who connected with which grant and account, when, how
// much went through, the statements they ran and (SSH) the terminal
// recording. Owners see their own sessions, admins everyone's. Read from the
// store's copy (any broker's sessions) and the files, described in
// ../sessions-reader.ts.

import { readsEverything } from '../../core/identity/roles.js';
import { z } from 'zod';
import { forbidden, notFound } from '../../core/errors.js';
import type { UserDef } from '../../core/types.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { queryInt } from '../schemas.js';
import { createSessionsReader, sessionIdPattern } from '../sessions-reader.js';
import { sessionDetailView, sessionView, type SessionView } from '../views/index.js';

const sessionIdParam = z.object({ id: z.string().regex(sessionIdPattern, 'is not a session id (ses_…)') }).strict();

function mayRead(actor: UserDef, s: SessionView): void {
  if (s.user !== actor.name && !readsEverything(actor)) throw notFound(`session ${s.id} not found`);
}

export function sessionRoutes(deps: ApiDeps) {
  const reader = createSessionsReader({ dir: deps.sessionDir, live: deps.liveSessions, store: deps.store, now: () => deps.clock.now() });
  const found = <T>(v: T | undefined, id: string): T => {
    // The same words as for another user's session (mayRead): neither says whether it exists.
    if (v === undefined) throw notFound(`session ${id} not found`);
    return v;
  };
  return [
    route({
      method: 'GET',
      url: '/v1/sessions',
      tag: 'sessions',
      auth: 'user',
      errors: ['forbidden'],
      summary: "Your gateway sessions, newest first; all=true lists everyone's (admins)",
      query: z
        .object({
          all: z.enum(['true', 'false']).default('false'),
          grant: z
            .string()
            .regex(/^gr_[a-z0-9]{12}$/, 'is not a grant id (gr_…)')
            .optional(),
          limit: queryInt({ min: 1, max: 5000 }).default(500),
        })
        .strict(),
      response: z.object({ sessions: z.array(sessionView) }),
      handler: async ({ actor, query }) => {
        if (query.all === 'true' && !readsEverything(actor)) throw forbidden('only admins and auditors may list every session');
        const sessions = await reader.list({ user: query.all === 'true' ? undefined : actor.name, grantId: query.grant, limit: query.limit });
        return { sessions };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/sessions/:id',
      tag: 'sessions',
      auth: 'user',
      summary: 'One session, its statement log (postgres) and channels (ssh); its owner or an admin',
      params: sessionIdParam,
      // A page of the statement log: a long session's whole log would be read into memory at once.
      query: z
        .object({
          limit: queryInt({ min: 1, max: 5000 }).default(1000),
          offset: queryInt({ min: 0, max: Number.MAX_SAFE_INTEGER }).default(0),
        })
        .strict(),
      response: sessionDetailView,
      handler: async ({ actor, params, query, reply }) => {
        mayRead(actor, found(await reader.summary(params.id), params.id));
        const detail = found(await reader.get(params.id, { statementsLimit: query.limit, statementsOffset: query.offset }), params.id);
        reply.header('cache-control', 'no-store');
        return detail;
      },
    }),
    route({
      method: 'GET',
      url: '/v1/sessions/:id/recording',
      tag: 'sessions',
      auth: 'user',
      produces: 'application/x-asciicast',
      summary: 'A terminal recording of a session as asciicast v2 text (application/x-asciicast): channel N, else the first; 404 when there is none',
      params: sessionIdParam,
      query: z.object({ channel: queryInt({ min: 0, max: 999_999_999 }).optional() }).strict(),
      response: z.string().describe('asciicast v2: a JSON header line, then one [seconds, code, data] event per line'),
      handler: async ({ actor, params, query, reply }) => {
        const s = found(await reader.summary(params.id), params.id);
        mayRead(actor, s);
        const channel = query.channel ?? s.recordings[0];
        const stream = channel === undefined ? null : await reader.openRecording(params.id, channel);
        if (!stream) throw notFound(`session ${params.id} has no terminal recording${query.channel !== undefined ? ` of channel ${query.channel}` : ''}`);
        reply.header('cache-control', 'no-store');
        reply.type('application/x-asciicast; charset=utf-8');
        return stream;
      },
    }),
  ];
}
