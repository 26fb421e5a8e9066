// `stint sessions verify SESSION`: is the recording still what its end event
// hashed into the audit chain (GET /v1/sessions/:id/verify)? Exit 8 when not.

import type { SessionVerifyView } from '../../api/views/index.js';
import { CliError } from '../cli-error.js';
import { exitCodes } from '../exit-codes.js';
import { seg, type CommandContext } from '../run.js';

export async function verifySessionCommand({ out, client }: CommandContext, sessionId: string): Promise<number> {
  const r = await client().get<SessionVerifyView>(`/v1/sessions/${seg(sessionId)}/verify`);
  if (out.json) {
    out.document(r);
    return r.ok ? exitCodes.ok : exitCodes.auditBroken;
  }
  if (!r.ok) throw new CliError('audit_broken', `session ${sessionId}: recording NOT verified: ${r.problems.join('; ')}`);
  out.line(
    `session ${sessionId}: recording verified against audit event ${r.endSeq}: log sha256 ${r.log.actual}${r.casts.length ? `, ${r.casts.length} terminal recording${r.casts.length === 1 ? '' : 's'}` : ''}`,
  );
  return exitCodes.ok;
}
