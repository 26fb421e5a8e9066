// Gateway session recordings over Kysely (the Store port's recording part):
// one row per session, its streams in chunks.

import type { Kysely } from 'kysely';
import type { SessionRecordingRecord, SessionRecordingStore } from '../core/ports.js';
import type { Database, SessionRecordingsTable } from './schema.js';

function rowToRecording(r: SessionRecordingsTable): SessionRecordingRecord {
  return {
    id: r.id,
    gateway: r.gateway === 'ssh' ? 'ssh' : 'postgres',
    user: r.user_name,
    grantId: r.grant_id,
    startedAt: Number(r.started_at),
    touchedAt: Number(r.touched_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    header: r.header,
    end: r.end_line,
  };
}

/** Rows deleted per statement, so a sweep never holds a long lock. */
const deleteBatch = 100;

export class SessionRecordings implements SessionRecordingStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertSessionRecording(r: Omit<SessionRecordingRecord, 'touchedAt' | 'endedAt' | 'end'>): Promise<void> {
    await this.db
      .insertInto('session_recordings')
      .values({
        id: r.id,
        gateway: r.gateway,
        user_name: r.user,
        grant_id: r.grantId,
        started_at: r.startedAt,
        touched_at: r.startedAt,
        ended_at: null,
        header: r.header,
        end_line: null,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async appendSessionChunk(sessionId: string, stream: string, seq: number, data: string): Promise<void> {
    await this.db
      .insertInto('session_chunks')
      .values({ session_id: sessionId, stream, seq, data })
      .onConflict((oc) => oc.columns(['session_id', 'stream', 'seq']).doNothing())
      .execute();
  }

  async touchSessionRecording(sessionId: string, at: number): Promise<void> {
    await this.db.updateTable('session_recordings').set({ touched_at: at }).where('id', '=', sessionId).where('touched_at', '<', at).execute();
  }

  async endSessionRecording(sessionId: string, endedAt: number, end: string): Promise<void> {
    await this.db.updateTable('session_recordings').set({ ended_at: endedAt, end_line: end, touched_at: endedAt }).where('id', '=', sessionId).execute();
  }

  async getSessionRecording(sessionId: string): Promise<SessionRecordingRecord | undefined> {
    const r = await this.db.selectFrom('session_recordings').selectAll().where('id', '=', sessionId).executeTakeFirst();
    return r ? rowToRecording(r) : undefined;
  }

  async listSessionRecordings(filter: { user?: string; grantId?: string; limit: number }): Promise<SessionRecordingRecord[]> {
    let q = this.db.selectFrom('session_recordings').selectAll();
    if (filter.user !== undefined) q = q.where('user_name', '=', filter.user);
    if (filter.grantId !== undefined) q = q.where('grant_id', '=', filter.grantId);
    const rows = await q.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(rowToRecording);
  }

  async listSessionStreams(sessionIds: readonly string[]): Promise<{ sessionId: string; stream: string }[]> {
    if (sessionIds.length === 0) return [];
    const out: { sessionId: string; stream: string }[] = [];
    // Bounded IN lists: SQLite caps bound parameters.
    for (let i = 0; i < sessionIds.length; i += 500) {
      const rows = await this.db
        .selectFrom('session_chunks')
        .select(['session_id', 'stream'])
        .distinct()
        .where('session_id', 'in', sessionIds.slice(i, i + 500))
        .execute();
      for (const r of rows) out.push({ sessionId: r.session_id, stream: r.stream });
    }
    return out;
  }

  async readSessionChunks(sessionId: string, stream: string, afterSeq: number, limit: number): Promise<{ seq: number; data: string }[]> {
    const rows = await this.db
      .selectFrom('session_chunks')
      .select(['seq', 'data'])
      .where('session_id', '=', sessionId)
      .where('stream', '=', stream)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), data: r.data }));
  }

  async deleteSessionRecordings(before: number, limit: number): Promise<number> {
    let deleted = 0;
    while (deleted < limit) {
      const ids = (
        await this.db
          .selectFrom('session_recordings')
          .select('id')
          .where('touched_at', '<', before)
          .orderBy('touched_at')
          .limit(Math.min(deleteBatch, limit - deleted))
          .execute()
      ).map((r) => r.id);
      if (ids.length === 0) break;
      // Chunks first: a sweep cut short leaves a recording with fewer chunks, never chunks without a recording.
      await this.db.deleteFrom('session_chunks').where('session_id', 'in', ids).execute();
      const r = await this.db.deleteFrom('session_recordings').where('id', 'in', ids).executeTakeFirst();
      deleted += Number(r.numDeletedRows);
      if (ids.length < deleteBatch) break;
    }
    return deleted;
  }
}
