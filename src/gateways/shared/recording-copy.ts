// The store's copy of a session recording (ports.ts, SessionRecordingStore),
// written beside the broker's own file so that any broker sharing the store
// can show it. Each stream is written as chunks of whole lines, in order; a
// write the store refuses is retried a few times, then logged (the local
// file still has it). The SHA-256 of a stream is over exactly the bytes
// written, so it equals `sha256sum` of the file and of the store's chunks.

import { createHash } from 'node:crypto';
import type { Logger, SessionRecordingStore } from '../../core/ports.js';
import { safeErrorText } from '../../core/scrub.js';

export type RecordingStore = Pick<SessionRecordingStore, 'insertSessionRecording' | 'appendSessionChunk' | 'touchSessionRecording' | 'endSessionRecording'>;

/** The retention sweep: deletes every recording last written before `now - retentionMs`, a thousand at a time; how many went. */
export async function sweepRecordings(store: Pick<SessionRecordingStore, 'deleteSessionRecordings'>, now: number, retentionMs: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await store.deleteSessionRecordings(now - retentionMs, 1000);
    total += n;
    if (n < 1000) return total;
  }
}

/** How often an open session's row is touched: a reader takes a session untouched for 3 of these as interrupted. */
export const touchEveryMs = 30_000;
const attempts = 3;

export interface StreamCopy {
  /** Queues `text` (whole lines) as the stream's next chunk. */
  write(text: string): void;
  /** Waits for every queued chunk; the SHA-256 (hex) of everything written. */
  close(): Promise<string>;
}

export function streamCopy(deps: { store: RecordingStore; log: Logger }, sessionId: string, stream: string): StreamCopy {
  const hash = createHash('sha256');
  let seq = 0;
  let tail: Promise<void> = Promise.resolve();
  let digest: string | null = null;
  return {
    write(text) {
      if (!text || digest !== null) return;
      hash.update(text);
      const n = seq++;
      tail = tail.then(() => retried(() => deps.store.appendSessionChunk(sessionId, stream, n, text), deps.log, { sessionId, stream, seq: n }));
    },
    async close() {
      await tail;
      digest ??= hash.digest('hex');
      return digest;
    },
  };
}

async function retried(op: () => Promise<void>, log: Logger, what: object): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (err) {
      if (i >= attempts) {
        log.error({ ...what, error: safeErrorText(err) }, 'could not copy a session recording chunk to the store; the broker file keeps it');
        return;
      }
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}

export interface RecordingCopy {
  log: StreamCopy;
  cast(channel: number): StreamCopy;
  /** Writes the end line's fields to the row, after the log's last chunk; the log's SHA-256. */
  end(endedAt: number, endLine: string): Promise<{ logSha256: string }>;
}

/** Inserts the session's row (refusing the session when the store cannot take it, as the file does) and keeps it touched while open. */
export async function openRecordingCopy(
  deps: { store: RecordingStore; log: Logger; now: () => number },
  r: { sessionId: string; gateway: 'postgres' | 'ssh'; user: string; grantId: string; startedAt: number; header: string },
): Promise<RecordingCopy> {
  await deps.store.insertSessionRecording({ id: r.sessionId, gateway: r.gateway, user: r.user, grantId: r.grantId, startedAt: r.startedAt, header: r.header });
  const log = streamCopy(deps, r.sessionId, 'log');
  const timer = setInterval(() => {
    deps.store.touchSessionRecording(r.sessionId, deps.now()).catch(() => {});
  }, touchEveryMs);
  timer.unref();
  return {
    log,
    cast: (channel) => streamCopy(deps, r.sessionId, `cast:${channel}`),
    async end(endedAt, endLine) {
      clearInterval(timer);
      const logSha256 = await log.close();
      await retried(() => deps.store.endSessionRecording(r.sessionId, endedAt, endLine), deps.log, { sessionId: r.sessionId, stream: 'end' });
      return { logSha256 };
    },
  };
}
