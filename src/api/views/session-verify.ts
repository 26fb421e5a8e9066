// GET /v1/sessions/:id/verify (../session-verify.ts): a session's recording
// hashed at its end (the digest in its session.ended audit event) and now.

import { z } from 'zod';

export const sessionVerifyView = z.object({
  sessionId: z.string(),
  ok: z.boolean(),
  /** seq of the session.ended event holding the digest; null when there is none. */
  endSeq: z.number().nullable(),
  log: z.object({ recorded: z.string().nullable(), actual: z.string().nullable() }),
  casts: z.array(z.object({ channel: z.number(), recorded: z.string().nullable(), actual: z.string().nullable() })),
  problems: z.array(z.string()),
});
export type SessionVerifyView = z.infer<typeof sessionVerifyView>;
