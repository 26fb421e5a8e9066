// Gateway session recordings for the in-memory store (tests): the Kysely
// version's behaviour (store/session-recordings.ts), one process's maps.

import type { SessionRecordingRecord, SessionRecordingStore } from '../../core/ports.js';

export class MemoryRecordings implements SessionRecordingStore {
  private readonly recordings = new Map<string, SessionRecordingRecord>();
  /** `sessionId\0stream` → seq → data. */
  private readonly chunks = new Map<string, Map<number, string>>();

  constructor(private readonly ensureOpen: () => void) {}

  async insertSessionRecording(r: Omit<SessionRecordingRecord, 'touchedAt' | 'endedAt' | 'end'>): Promise<void> {
    this.ensureOpen();
    if (!this.recordings.has(r.id)) this.recordings.set(r.id, { ...r, touchedAt: r.startedAt, endedAt: null, end: null });
  }

  async appendSessionChunk(sessionId: string, stream: string, seq: number, data: string): Promise<void> {
    this.ensureOpen();
    const key = `${sessionId}\0${stream}`;
    const m = this.chunks.get(key) ?? new Map<number, string>();
    if (!m.has(seq)) m.set(seq, data);
    this.chunks.set(key, m);
  }

  async touchSessionRecording(sessionId: string, at: number): Promise<void> {
    this.ensureOpen();
    const r = this.recordings.get(sessionId);
    if (r && r.touchedAt < at) r.touchedAt = at;
  }

  async endSessionRecording(sessionId: string, endedAt: number, end: string): Promise<void> {
    this.ensureOpen();
    const r = this.recordings.get(sessionId);
    if (r) Object.assign(r, { endedAt, end, touchedAt: endedAt });
  }

  async getSessionRecording(sessionId: string): Promise<SessionRecordingRecord | undefined> {
    this.ensureOpen();
    const r = this.recordings.get(sessionId);
    return r && { ...r };
  }

  async listSessionRecordings(filter: { user?: string; grantId?: string; limit: number }): Promise<SessionRecordingRecord[]> {
    this.ensureOpen();
    return [...this.recordings.values()]
      .filter((r) => (filter.user === undefined || r.user === filter.user) && (filter.grantId === undefined || r.grantId === filter.grantId))
      .sort((a, b) => b.startedAt - a.startedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(0, filter.limit)
      .map((r) => ({ ...r }));
  }

  async listSessionStreams(sessionIds: readonly string[]): Promise<{ sessionId: string; stream: string }[]> {
    this.ensureOpen();
    const wanted = new Set(sessionIds);
    const out: { sessionId: string; stream: string }[] = [];
    for (const [key, m] of this.chunks) {
      const [sessionId, stream] = key.split('\0') as [string, string];
      if (wanted.has(sessionId) && m.size > 0) out.push({ sessionId, stream });
    }
    return out;
  }

  async readSessionChunks(sessionId: string, stream: string, afterSeq: number, limit: number): Promise<{ seq: number; data: string }[]> {
    this.ensureOpen();
    const m = this.chunks.get(`${sessionId}\0${stream}`) ?? new Map<number, string>();
    return [...m.entries()]
      .filter(([seq]) => seq > afterSeq)
      .sort(([a], [b]) => a - b)
      .slice(0, limit)
      .map(([seq, data]) => ({ seq, data }));
  }

  async deleteSessionRecordings(before: number, limit: number): Promise<number> {
    this.ensureOpen();
    const gone = [...this.recordings.values()]
      .filter((r) => r.touchedAt < before)
      .sort((a, b) => a.touchedAt - b.touchedAt)
      .slice(0, limit);
    for (const r of gone) {
      this.recordings.delete(r.id);
      for (const key of [...this.chunks.keys()]) if (key.startsWith(`${r.id}\0`)) this.chunks.delete(key);
    }
    return gone.length;
  }
}
