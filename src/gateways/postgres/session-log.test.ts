import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLUSH_MS, createSessionLog } from './session-log.js';

const dir = mkdtempSync(join(tmpdir(), 'stint-pgsl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const header = (sessionId: string) => ({
  sessionId,
  user: 'alice',
  profile: 'pg-read',
  target: 'pg',
  grantId: 'gr_1',
  account: 'stint_alice_abc123',
  grantKind: 'session-bound' as const,
  client: '127.0.0.1:1',
  tls: true,
  startedAt: new Date(0).toISOString(),
});
const statement = (n: number) => ({ at: new Date(n).toISOString(), protocol: 'simple' as const, sql: `SELECT ${n}`, ms: 1, rows: 1 });
const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; sql?: string });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('postgres session log', () => {
  it('statement lines reach the file within FLUSH_MS, in order, while the session is open', async () => {
    const log = createSessionLog({ dir });
    const h = await log.open(header('ses_batch1'));
    for (let i = 1; i <= 3; i++) h.statement(statement(i));
    // In memory at once (the file within FLUSH_MS).
    assert.equal(log.get('ses_batch1')!.statements.length, 3);
    await sleep(FLUSH_MS + 150);
    const got = lines(log.fileOf('ses_batch1'));
    assert.deepEqual(
      got.map((l) => l.type),
      ['session', 'statement', 'statement', 'statement'],
    );
    assert.deepEqual(
      got.slice(1).map((l) => l.sql),
      ['SELECT 1', 'SELECT 2', 'SELECT 3'],
    );
    await h.end({ at: 10, reason: 'client-disconnected', bytesIn: 1, bytesOut: 2 });
  });

  it('end writes the waiting statements before the end line', async () => {
    const log = createSessionLog({ dir });
    const h = await log.open(header('ses_batch2'));
    for (let i = 1; i <= 1000; i++) h.statement(statement(i));
    await h.end({ at: 10, reason: 'client-disconnected', bytesIn: 1, bytesOut: 2 });
    const got = lines(log.fileOf('ses_batch2'));
    assert.equal(got.length, 1002);
    assert.equal(got[0]!.type, 'session');
    assert.deepEqual(
      got.slice(1, -1).map((l) => l.sql),
      Array.from({ length: 1000 }, (_, i) => `SELECT ${i + 1}`),
    );
    assert.equal(got.at(-1)!.type, 'end');
  });

  it('memory keeps the newest statements, bounded by count and by SQL text; the file keeps them all', async () => {
    const log = createSessionLog({ dir, keepStatements: 5, keepStatementChars: 120 });
    const h = await log.open(header('ses_bounded'));
    for (let i = 1; i <= 8; i++) h.statement(statement(i));
    assert.deepEqual(
      log.get('ses_bounded')!.statements.map((s) => s.sql),
      ['SELECT 4', 'SELECT 5', 'SELECT 6', 'SELECT 7', 'SELECT 8'],
    );
    const long = (n: number) => ({ ...statement(n), sql: `SELECT '${'x'.repeat(40)}' AS c${n}` });
    for (let i = 9; i <= 11; i++) h.statement(long(i));
    const kept = log.get('ses_bounded')!;
    assert.deepEqual(
      kept.statements.map((s) => s.sql),
      [long(10).sql, long(11).sql],
      'at most 120 characters of SQL',
    );
    assert.equal(kept.statementsDropped, 9);
    h.statement({ ...statement(12), sql: 'y'.repeat(500) });
    assert.equal(log.get('ses_bounded')!.statements.length, 1, 'the newest is kept even alone over the budget');
    await h.end({ at: 10, reason: 'client-disconnected', bytesIn: 1, bytesOut: 2 });
    assert.equal(lines(log.fileOf('ses_bounded')).filter((l) => l.type === 'statement').length, 12);
  });
});
