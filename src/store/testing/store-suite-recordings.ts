// The session recordings part of the Store compliance suite (store-suite.ts):
// `store()` is the fresh, migrated store of the running test.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/ports.js';
import { hostileStrings, t0 } from './fixtures.js';

const rec = (id: string, over: { user?: string; grantId?: string; startedAt?: number; gateway?: 'postgres' | 'ssh' } = {}) => ({
  id,
  gateway: over.gateway ?? ('postgres' as const),
  user: over.user ?? 'alice',
  grantId: over.grantId ?? 'gr_aaaaaaaaaaaa',
  startedAt: over.startedAt ?? t0,
  header: JSON.stringify({ type: 'session', sessionId: id, user: over.user ?? 'alice' }),
});

export function recordingsSuite(store: () => Store): void {
  describe('session recordings', () => {
    it('round-trips a recording: inserted once, touched forward only, ended with its end line', async () => {
      await store().insertSessionRecording(rec('ses_a00000000001'));
      // A second insert (a retried write) changes nothing.
      await store().insertSessionRecording({ ...rec('ses_a00000000001'), user: 'mallory', header: '{}' });
      assert.deepEqual(await store().getSessionRecording('ses_a00000000001'), { ...rec('ses_a00000000001'), touchedAt: t0, endedAt: null, end: null });
      await store().touchSessionRecording('ses_a00000000001', t0 + 30);
      await store().touchSessionRecording('ses_a00000000001', t0 + 10);
      assert.equal((await store().getSessionRecording('ses_a00000000001'))!.touchedAt, t0 + 30);
      await store().endSessionRecording('ses_a00000000001', t0 + 60, '{"type":"end"}');
      const ended = (await store().getSessionRecording('ses_a00000000001'))!;
      assert.deepEqual([ended.endedAt, ended.end, ended.touchedAt], [t0 + 60, '{"type":"end"}', t0 + 60]);
      assert.equal(await store().getSessionRecording('ses_missing00000'), undefined);
    });

    it('keeps each stream in seq order whatever order the chunks arrive in; a repeated chunk is kept once', async () => {
      await store().insertSessionRecording(rec('ses_b00000000001'));
      for (const seq of [2, 0, 1]) await store().appendSessionChunk('ses_b00000000001', 'log', seq, `line ${seq}\n`);
      await store().appendSessionChunk('ses_b00000000001', 'log', 1, 'a retry with other bytes\n');
      await store().appendSessionChunk('ses_b00000000001', 'cast:3', 0, hostileStrings.join('\n'));
      assert.deepEqual((await store().readSessionChunks('ses_b00000000001', 'log', -1, 10)).map((c) => c.data).join(''), 'line 0\nline 1\nline 2\n');
      assert.deepEqual(await store().readSessionChunks('ses_b00000000001', 'log', 0, 1), [{ seq: 1, data: 'line 1\n' }]);
      assert.equal((await store().readSessionChunks('ses_b00000000001', 'cast:3', -1, 10))[0]!.data, hostileStrings.join('\n'));
      assert.deepEqual(await store().readSessionChunks('ses_b00000000001', 'cast:4', -1, 10), []);
      assert.deepEqual((await store().listSessionStreams(['ses_b00000000001', 'ses_other0000000'])).map((s) => `${s.sessionId} ${s.stream}`).sort(), [
        'ses_b00000000001 cast:3',
        'ses_b00000000001 log',
      ]);
      assert.deepEqual(await store().listSessionStreams([]), []);
    });

    it('lists newest first, by user and by grant, up to the limit', async () => {
      await store().insertSessionRecording(rec('ses_c00000000001', { startedAt: t0 + 1 }));
      await store().insertSessionRecording(rec('ses_c00000000002', { startedAt: t0 + 3, user: 'bob', grantId: 'gr_bbbbbbbbbbbb', gateway: 'ssh' }));
      await store().insertSessionRecording(rec('ses_c00000000003', { startedAt: t0 + 2 }));
      await store().insertSessionRecording(rec('ses_c00000000004', { startedAt: t0 + 2 }));
      const ids = async (f: { user?: string; grantId?: string; limit: number }) => (await store().listSessionRecordings(f)).map((r) => r.id);
      assert.deepEqual(await ids({ limit: 10 }), ['ses_c00000000002', 'ses_c00000000004', 'ses_c00000000003', 'ses_c00000000001']);
      assert.deepEqual(await ids({ limit: 2 }), ['ses_c00000000002', 'ses_c00000000004']);
      assert.deepEqual(await ids({ user: 'alice', limit: 10 }), ['ses_c00000000004', 'ses_c00000000003', 'ses_c00000000001']);
      assert.deepEqual(await ids({ grantId: 'gr_bbbbbbbbbbbb', limit: 10 }), ['ses_c00000000002']);
      assert.equal((await store().listSessionRecordings({ user: 'bob', limit: 1 }))[0]!.gateway, 'ssh');
      assert.deepEqual(await ids({ user: hostileStrings[0]!, limit: 10 }), []);
    });

    it('retention deletes recordings last touched before the cut, with their chunks, at most `limit` at a time', async () => {
      for (let i = 1; i <= 5; i++) {
        const id = `ses_d0000000000${i}`;
        await store().insertSessionRecording(rec(id, { startedAt: t0 + i }));
        await store().appendSessionChunk(id, 'log', 0, 'x\n');
      }
      // Touched late: kept although it started early.
      await store().touchSessionRecording('ses_d00000000001', t0 + 100);
      assert.equal(await store().deleteSessionRecordings(t0 + 5, 2), 2);
      assert.equal(await store().deleteSessionRecordings(t0 + 5, 10), 1);
      assert.equal(await store().deleteSessionRecordings(t0 + 5, 10), 0);
      assert.deepEqual(
        (await store().listSessionRecordings({ limit: 10 })).map((r) => r.id),
        ['ses_d00000000005', 'ses_d00000000001'],
      );
      assert.deepEqual(
        (await store().listSessionStreams(['ses_d00000000002', 'ses_d00000000003', 'ses_d00000000004', 'ses_d00000000005'])).map((s) => s.sessionId),
        ['ses_d00000000005'],
      );
    });
  });
}
