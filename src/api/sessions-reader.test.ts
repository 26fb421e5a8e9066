// Listing sessions from their files: a file that has not changed since the
// last listing is not read again; one that has (a live session that ended) is.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionsReader } from './sessions-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'stint-sessions-reader-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const header = (id: string, startedAt: string) =>
  `${JSON.stringify({ type: 'session', gateway: 'postgres', sessionId: id, user: 'alice', profile: 'pg-read', target: 'pg', grantId: 'gr_1', account: 'stint_alice_abc123', grantKind: 'session-bound', client: '127.0.0.1:1', tls: true, startedAt })}\n`;
const endLine = (id: string) =>
  `${JSON.stringify({ type: 'end', sessionId: id, endedAt: '2026-01-01T10:05:00.000Z', reason: 'client-disconnected', bytesIn: 1, bytesOut: 2, statements: 0 })}\n`;

describe('sessions reader: listing', () => {
  it('reads a file again only once it changed', async () => {
    const a = 'ses_aaaaaaaaaaaa';
    const b = 'ses_bbbbbbbbbbbb';
    const file = join(dir, `${a}.jsonl`);
    const whole = 1_700_000_000; // a whole second: utimes can put it back exactly
    writeFileSync(file, header(a, '2026-01-01T10:00:00.000Z') + endLine(a));
    utimesSync(file, whole, whole);
    writeFileSync(join(dir, `${b}.jsonl`), header(b, '2026-01-01T11:00:00.000Z'));
    const reader = createSessionsReader({ dir });
    const first = await reader.list();
    assert.deepEqual(
      first.map((s) => [s.id, s.status]),
      [
        [b, 'interrupted'],
        [a, 'ended'],
      ],
    );

    // b ends: its file grew, so it is read again.
    appendFileSync(join(dir, `${b}.jsonl`), endLine(b));
    assert.deepEqual(
      (await reader.list()).map((s) => [s.id, s.status]),
      [
        [b, 'ended'],
        [a, 'ended'],
      ],
    );

    // a's file overwritten with bytes of the same length and its times put back: not read again.
    writeFileSync(file, 'x'.repeat(statSync(file).size));
    utimesSync(file, whole, whole);
    assert.equal((await reader.list()).find((s) => s.id === a)?.status, 'ended', 'served from what was read before');
    // A reader that never read it sees the file as it is now: no readable header, no session.
    assert.equal(
      (await createSessionsReader({ dir }).list()).find((s) => s.id === a),
      undefined,
    );
  });
});
