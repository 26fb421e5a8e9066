// Sessions recorded by one broker, read by another through the store only:
// the copy holds exactly the file's bytes (its SHA-256 is the file's), the
// statement log pages the same, a terminal recording streams back whole, and
// a session without an end is live while its broker keeps touching it,
// interrupted once it stops.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { nullLogger } from '../core/ports.js';
import { createSessionLog } from '../gateways/postgres/session-log.js';
import { sweepRecordings, touchEveryMs } from '../gateways/shared/recording-copy.js';
import { openAsciicast } from '../gateways/ssh/asciicast.js';
import { createSshSessionLog } from '../gateways/ssh/session-log.js';
import { createMemoryStore } from '../store/memory/memory-store.js';
import { createSessionsReader } from './sessions-reader.js';

const base = mkdtempSync(join(tmpdir(), 'stint-store-sessions-'));
after(() => rmSync(base, { recursive: true, force: true }));
const t0 = Date.parse('2026-03-01T10:00:00.000Z');

describe('sessions in the store, read by another broker', () => {
  it('a postgres session: same bytes as the file, the SHA-256 in hand, statements paged', async () => {
    const store = createMemoryStore();
    const dirA = join(base, 'a1');
    const log = createSessionLog({ dir: dirA, copy: { store, log: nullLogger, now: () => t0 } });
    const id = 'ses_pgpgpgpgpg01';
    const h = await log.open({
      sessionId: id,
      user: 'alice',
      profile: 'pg-read',
      target: 'pg',
      grantId: 'gr_pgpgpgpgpg01',
      account: 'stint_alice_pgpgpg',
      grantKind: 'session-bound',
      client: '127.0.0.1:5',
      tls: true,
      startedAt: new Date(t0).toISOString(),
    });
    for (let i = 0; i < 5; i++) h.statement({ at: new Date(t0 + i).toISOString(), protocol: 'simple', sql: `SELECT ${i}`, ms: 1, rows: 1 });
    const digest = await h.end({ at: t0 + 60_000, reason: 'client-disconnected', bytesIn: 10, bytesOut: 20 });
    const file = readFileSync(join(dirA, `${id}.jsonl`));
    assert.equal(digest?.log, createHash('sha256').update(file).digest('hex'));
    const chunks = await store.readSessionChunks(id, 'log', -1, 1000);
    assert.equal(chunks.map((c) => c.data).join(''), file.toString('utf8'));

    const b = createSessionsReader({ dir: join(base, 'b1-empty'), store, now: () => t0 + 120_000 });
    const [listed] = await b.list({ user: 'alice' });
    assert.equal(listed!.id, id);
    assert.equal(listed!.status, 'ended');
    assert.equal(listed!.bytesOut, 20);
    assert.equal(listed!.statements, 5);
    const page = (await b.get(id, { statementsOffset: 1, statementsLimit: 2 }))!;
    assert.equal(page.statementsTotal, 5);
    assert.deepEqual(
      page.statements.map((s) => s.sql),
      ['SELECT 1', 'SELECT 2'],
    );
    assert.deepEqual(await b.list({ user: 'bob' }), []);
    await store.close();
  });

  it('an ssh session: its terminal recording streams back from the store whole', async () => {
    const store = createMemoryStore();
    const dirA = join(base, 'a2');
    const log = createSshSessionLog({ dir: dirA, copy: { store, log: nullLogger, now: () => t0 } });
    const id = 'ses_sshsshssh001';
    const h = await log.open({
      sessionId: id,
      user: 'alice',
      profile: 'host-shell',
      target: 'host',
      grantId: 'gr_sshsshssh001',
      account: 'stint_alice_sshssh',
      grantKind: 'session-bound',
      client: '127.0.0.1:6',
      startedAt: new Date(t0).toISOString(),
      clientKey: 'SHA256:abc',
      via: 'login',
    });
    h.channel({ channel: 0, at: new Date(t0).toISOString(), kind: 'shell', detail: null, pty: true, recording: h.castFile(0) });
    const cast = openAsciicast(h.castFile(0), { width: 80, height: 24 }, { now: () => t0, startMs: t0, copy: h.castCopy(0) });
    for (let i = 0; i < 100; i++) cast.output(`line ${i} ✓\r\n`);
    await cast.close();
    h.channelEnd(0, t0 + 1000, { code: 0 });
    await h.end({ at: t0 + 2000, reason: 'client-disconnected' });

    const b = createSessionsReader({ dir: undefined, store, now: () => t0 + 3000 });
    const s = (await b.get(id))!;
    assert.equal(s.session.gateway, 'ssh');
    assert.deepEqual(s.session.recordings, [0]);
    assert.deepEqual(
      s.channels.map((c) => [c.channel, c.kind, c.recording, c.exit]),
      [[0, 'shell', true, { code: 0 }]],
    );
    assert.equal(await text((await b.openRecording(id, 0))!), readFileSync(join(dirA, `${id}-0.cast`), 'utf8'));
    assert.equal(await b.openRecording(id, 1), null);
    await store.close();
  });

  it('without an end: live while its broker touches it, interrupted once it stops', async () => {
    const store = createMemoryStore();
    const id = 'ses_openopenop01';
    const header = JSON.stringify({
      type: 'session',
      gateway: 'postgres',
      sessionId: id,
      user: 'alice',
      profile: 'pg-read',
      target: 'pg',
      grantId: 'gr_x',
      account: 'a',
      grantKind: 'session-bound',
      client: 'c',
      startedAt: new Date(t0).toISOString(),
    });
    await store.insertSessionRecording({ id, gateway: 'postgres', user: 'alice', grantId: 'gr_x', startedAt: t0, header });
    let now = t0 + touchEveryMs;
    const b = createSessionsReader({ dir: undefined, store, now: () => now });
    assert.equal((await b.summary(id))!.status, 'live');
    now = t0 + 3 * touchEveryMs + 1;
    assert.equal((await b.summary(id))!.status, 'interrupted');
    await store.touchSessionRecording(id, now);
    assert.equal((await b.summary(id))!.status, 'live');
    await store.close();
  });

  it('the retention sweep deletes what was last written before the retention, in batches, and keeps the rest', async () => {
    const store = createMemoryStore();
    const day = 86_400_000;
    for (let i = 0; i < 2500; i++) {
      const id = `ses_old${String(i).padStart(9, '0')}`;
      await store.insertSessionRecording({ id, gateway: 'postgres', user: 'alice', grantId: 'gr_x', startedAt: t0 - 100 * day, header: '{}' });
    }
    await store.insertSessionRecording({
      id: 'ses_newnewnew001',
      gateway: 'postgres',
      user: 'alice',
      grantId: 'gr_x',
      startedAt: t0 - 100 * day,
      header: '{}',
    });
    await store.touchSessionRecording('ses_newnewnew001', t0 - day);
    assert.equal(await sweepRecordings(store, t0, 90 * day), 2500);
    assert.deepEqual(
      (await store.listSessionRecordings({ limit: 10 })).map((r) => r.id),
      ['ses_newnewnew001'],
    );
    await store.close();
  });
});
