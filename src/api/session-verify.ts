// `stint sessions verify` / GET /v1/sessions/:id/verify: hashes a session's
// log and terminal recordings again, through the sessions reader (so it
// works whatever keeps them), and compares them with the SHA-256 its
// `session.ended` audit event carries (gateways/shared/recording-digest.ts).
// The event is itself in the hash chain, so an edited recording cannot be
// made to match without breaking the chain.

import type { Store } from '../core/ports.js';
import type { AuditEvent } from '../core/types.js';
import { sha256Of } from '../gateways/shared/recording-digest.js';
import type { SessionsReader } from './sessions-reader.js';
import type { SessionVerifyView } from './views/index.js';

const hex64 = /^[0-9a-f]{64}$/;

async function endEventOf(store: Pick<Store, 'listAudit'>, sessionId: string, user: string): Promise<AuditEvent | null> {
  let afterSeq = 0;
  for (;;) {
    const page = await store.listAudit({ action: 'session.ended', subjectUser: user, afterSeq, limit: 1000 });
    const hit = page.find((e) => e.details.sessionId === sessionId);
    if (hit) return hit;
    if (page.length < 1000) return null;
    afterSeq = page[page.length - 1]!.seq;
  }
}

/** undefined when there is no such session. */
export async function verifySession(reader: SessionsReader, store: Pick<Store, 'listAudit'>, sessionId: string): Promise<SessionVerifyView | undefined> {
  const s = await reader.summary(sessionId);
  if (!s) return undefined;
  const problems: string[] = [];
  const end = await endEventOf(store, sessionId, s.user);
  const digest = end?.details.recordingSha256 as { log?: unknown; casts?: Record<string, unknown> } | null | undefined;
  const log = await reader.openLog(sessionId);
  const actualLog = log ? await sha256Of(log) : null;
  const recordedLog = typeof digest?.log === 'string' && hex64.test(digest.log) ? digest.log : null;
  if (!end) problems.push('no session.ended audit event (the session is live, or the broker stopped during it)');
  else if (!digest) problems.push(`its end event (seq ${end.seq}) carries no recording digest`);
  if (actualLog === null) problems.push('the session log is missing');
  else if (recordedLog !== null && recordedLog !== actualLog) problems.push('the session log differs from the one recorded at its end');
  const recordedCasts = digest?.casts && typeof digest.casts === 'object' ? digest.casts : {};
  const channels = [...new Set([...s.recordings.map(String), ...Object.keys(recordedCasts)])].sort((a, b) => Number(a) - Number(b));
  const casts: SessionVerifyView['casts'] = [];
  for (const ch of channels) {
    const recorded = typeof recordedCasts[ch] === 'string' && hex64.test(recordedCasts[ch]) ? recordedCasts[ch] : null;
    const stream = /^\d{1,9}$/.test(ch) ? await reader.openRecording(sessionId, Number(ch)) : null;
    const actual = stream ? await sha256Of(stream) : null;
    if (digest && recorded === null) problems.push(`the terminal recording of channel ${ch} was not there at the end`);
    else if (actual === null) problems.push(`the terminal recording of channel ${ch} is missing`);
    else if (recorded !== actual) problems.push(`the terminal recording of channel ${ch} differs from the one recorded at its end`);
    casts.push({ channel: Number(ch), recorded, actual });
  }
  return { sessionId, ok: problems.length === 0, endSeq: end?.seq ?? null, log: { recorded: recordedLog, actual: actualLog }, casts, problems };
}
