// Defence in depth against terminal escape injection: text already in the
// store (written there directly, bypassing the API that now refuses it) is
// printed by the real `stint` binary with its control and bidi characters
// escaped, in tables, detail blocks and --json alike.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { runBinary } from './testing/fake-api.js';

const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\u061c\ufeff]/;

describe('stint prints stored text escaped', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;
  let requestId: string;
  const reason = 'restart db\u001b]0;approved by root\u0007\u001b[2J\u001b[Hall good\u202egnp.exe';
  const ticket = 'OPS-1\u009b31m\u2066x';

  const as = async (user: string, ...args: string[]) =>
    runBinary(args, { PATH: process.env.PATH, HOME: process.env.HOME, STINT_SERVER: url, STINT_TOKEN: await broker.token(user) });

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
    url = await broker.app.listen('127.0.0.1', 0);
    const r = await broker.call(await broker.token('alice'), 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: 'plain', ticket: 'OPS-1' });
    requestId = r.body.request.id;
    // Written straight into the store, as text from before the API refused it, or from anything else writing there.
    const db = new Database(join(broker.dataDir, 'stint.db'));
    try {
      db.prepare('UPDATE requests SET reason = ?, ticket = ? WHERE id = ?').run(reason, ticket, requestId);
    } finally {
      db.close();
    }
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  it('stint requests --approvable: the table shows escapes, never the raw characters', async () => {
    const r = await as('bob', 'requests', '--approvable');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(raw.test(r.stdout), false, JSON.stringify(r.stdout));
    assert.ok(r.stdout.includes(requestId));
    // The REASON column is cut at 48 characters; what shows is escaped.
    assert.ok(r.stdout.includes('[OPS-1\\x9b31m\\u{2066}x] restart db\\x1b]0;approv'), r.stdout);
  });

  it('detail output and --json are escaped too; --json keeps the exact value', async () => {
    const json = await as('bob', 'requests', '--approvable', '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.equal(raw.test(json.stdout), false, JSON.stringify(json.stdout));
    const listed = JSON.parse(json.stdout).requests.find((x: { id: string }) => x.id === requestId);
    assert.equal(listed.reason, reason, 'JSON escapes are the same value');
    assert.equal(listed.ticket, ticket);

    const mine = await as('alice', 'requests');
    assert.equal(mine.code, 0, mine.stderr);
    assert.equal(raw.test(mine.stdout), false);
    assert.ok(mine.stdout.includes('restart db\\x1b]0;approv'), mine.stdout);
  });
});
