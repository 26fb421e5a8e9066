// The store's copy of session recordings (gateways/shared/recording-copy.ts),
// read for the API: what sessions-reader.ts reads from files, from the
// store instead, so a session recorded by one broker shows on every broker
// sharing the store.

import { Readable } from 'node:stream';
import type { SessionRecordingRecord, SessionRecordingStore } from '../core/ports.js';
import { touchEveryMs } from '../gateways/shared/recording-copy.js';

export type RecordingReadStore = Pick<SessionRecordingStore, 'getSessionRecording' | 'listSessionRecordings' | 'listSessionStreams' | 'readSessionChunks'>;

/** Chunks read per query while streaming a log or a cast. */
const chunkPage = 200;

export interface StoredSession {
  header: Record<string, unknown>;
  end: Record<string, unknown> | null;
  /** No end line, but its broker touched it lately: still open there. */
  openElsewhere: boolean;
}

export function createStoreSessions(store: RecordingReadStore, now: () => number) {
  function parse(row: SessionRecordingRecord): StoredSession | null {
    const header = parseJson(row.header);
    if (!header || header.type !== 'session' || header.sessionId !== row.id) return null;
    const end = row.end === null ? null : parseJson(row.end);
    return { header, end, openElsewhere: end === null && now() - row.touchedAt < 3 * touchEveryMs };
  }

  async function* chunks(sessionId: string, stream: string): AsyncGenerator<string> {
    let after = -1;
    for (;;) {
      const page = await store.readSessionChunks(sessionId, stream, after, chunkPage);
      for (const c of page) yield c.data;
      if (page.length < chunkPage) return;
      after = page[page.length - 1]!.seq;
    }
  }

  return {
    async get(sessionId: string): Promise<StoredSession | null> {
      const row = await store.getSessionRecording(sessionId);
      return row ? parse(row) : null;
    },

    async list(filter: { user?: string; grantId?: string; limit: number }): Promise<Map<string, StoredSession>> {
      const out = new Map<string, StoredSession>();
      for (const row of await store.listSessionRecordings(filter)) {
        const s = parse(row);
        if (s) out.set(row.id, s);
      }
      return out;
    },

    /** Session id → channels with a terminal recording in the store. */
    async casts(sessionIds: readonly string[]): Promise<Map<string, number[]>> {
      const m = new Map<string, number[]>();
      for (const { sessionId, stream } of await store.listSessionStreams(sessionIds)) {
        const r = /^cast:(\d{1,9})$/.exec(stream);
        if (!r) continue;
        m.set(
          sessionId,
          [...(m.get(sessionId) ?? []), Number(r[1])].sort((a, b) => a - b),
        );
      }
      return m;
    },

    /** The log's lines, in order (chunks hold whole lines). */
    async *lines(sessionId: string): AsyncGenerator<string> {
      for await (const data of chunks(sessionId, 'log')) {
        for (const line of data.split('\n')) if (line.length > 0) yield line;
      }
    },

    /** The session's log as stored (the bytes of its file), streamed; null when the store has none. */
    async openLog(sessionId: string): Promise<Readable | null> {
      const first = await store.readSessionChunks(sessionId, 'log', -1, 1);
      if (first.length === 0) return null;
      return Readable.from(chunks(sessionId, 'log'), { objectMode: false });
    },

    /** Channel N's asciicast, streamed from its chunks; null when the store has none. */
    async openCast(sessionId: string, channel: number): Promise<Readable | null> {
      const first = await store.readSessionChunks(sessionId, `cast:${channel}`, -1, 1);
      if (first.length === 0) return null;
      return Readable.from(chunks(sessionId, `cast:${channel}`), { objectMode: false });
    },
  };
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
