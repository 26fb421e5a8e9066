// GET /v1/sessions/:id/verify: is the session's recording still the one its
// end event hashed into the audit chain? Its owner, admins and auditors.

import { z } from 'zod';
import { notFound } from '../../core/errors.js';
import { readsEverything } from '../../core/identity/roles.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { verifySession } from '../session-verify.js';
import { createSessionsReader, sessionIdPattern } from '../sessions-reader.js';
import { sessionVerifyView } from '../views/index.js';

export function sessionVerifyRoutes(deps: ApiDeps) {
  const reader = createSessionsReader({ dir: deps.sessionDir, live: deps.liveSessions });
  return [
    route({
      method: 'GET',
      url: '/v1/sessions/:id/verify',
      tag: 'sessions',
      auth: 'user',
      summary: "Hash a session's log and terminal recordings again and compare with the SHA-256 in its session.ended audit event; its owner or an admin",
      params: z.object({ id: z.string().regex(sessionIdPattern, 'is not a session id (ses_…)') }).strict(),
      response: sessionVerifyView,
      handler: async ({ actor, params }) => {
        const s = await reader.summary(params.id);
        // The same words for another user's session: neither says whether it exists.
        if (!s || (s.user !== actor.name && !readsEverything(actor))) throw notFound(`session ${params.id} not found`);
        const r = await verifySession(reader, deps.store, params.id);
        if (!r) throw notFound(`session ${params.id} not found`);
        return r;
      },
    }),
  ];
}
