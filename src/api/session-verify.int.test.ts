// Recordings bound to the audit chain: a psql session through the real
// PostgreSQL gateway ends with a session.ended event carrying the SHA-256 of
// its statement log; `stint sessions verify` checks it; an edited log fails.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from '../embedded/free-port.js';
import { runBinary } from '../cli/testing/fake-api.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';

describe('sessions verify (real gateway, real PostgreSQL)', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let port: number;
  let url: string;

  before(async () => {
    target = await createTestTarget();
    port = await freePort();
    broker = await startTestBroker({
      target,
      editConfig: (t) => `gateways:\n  postgres: { listen: "127.0.0.1:${port}", maxSession: 10m, requireTls: false }\n${t}`,
    });
    url = await broker.app.listen('127.0.0.1', 0);
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  it('the end event holds the log digest; verify passes, then fails once the log is edited', async () => {
    const token = await broker.token('alice');
    await new Promise<string>((resolve, reject) =>
      execFile(
        'psql',
        [`host=127.0.0.1 port=${port} user=alice dbname=pg-read sslmode=disable`, '-tAc', 'SELECT 42'],
        { env: { PATH: process.env.PATH, PGPASSWORD: token } },
        (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout.trim())),
      ),
    );
    let ended = await broker.app.store.listAudit({ action: 'session.ended' });
    for (let i = 0; i < 200 && ended.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      ended = await broker.app.store.listAudit({ action: 'session.ended' });
    }
    assert.equal(ended.length, 1);
    const sessionId = String(ended[0]!.details.sessionId);
    const file = join(broker.dataDir, 'sessions', `${sessionId}.jsonl`);
    const digest = ended[0]!.details.recordingSha256 as { log: string; casts: Record<string, string> };
    assert.equal(
      digest.log,
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
      'the digest is the sha256 of the whole log file',
    );
    assert.deepEqual(digest.casts, {});

    const env = { PATH: process.env.PATH, HOME: process.env.HOME, STINT_SERVER: url, STINT_TOKEN: token };
    const ok = await runBinary(['sessions', 'verify', sessionId], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`recording verified against audit event ${ended[0]!.seq}: log sha256 ${digest.log}`));

    const original = await readFile(file, 'utf8');
    await writeFile(file, original.replace('SELECT 42', 'SELECT 43'));
    const bad = await runBinary(['sessions', 'verify', sessionId], env);
    assert.equal(bad.code, 8, bad.stdout);
    assert.match(bad.stderr, /recording NOT verified: the session log differs from the one recorded at its end/);
    const json = await runBinary(['sessions', 'verify', sessionId, '--json'], env);
    assert.equal(json.code, 8);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.ok, false);
    assert.equal(doc.log.recorded, digest.log);
    assert.notEqual(doc.log.actual, digest.log);

    // A line added after the end is found as well; the original bytes verify again.
    await writeFile(file, original);
    assert.equal((await runBinary(['sessions', 'verify', sessionId], env)).code, 0);
    await appendFile(file, '{"type":"statement","sql":"DROP TABLE x"}\n');
    assert.equal((await runBinary(['sessions', 'verify', sessionId], env)).code, 8);

    // Another user's session is not found, as for the other session routes.
    const bob = await broker.call(await broker.token('bob'), 'GET', `/v1/sessions/${sessionId}/verify`);
    assert.equal(bob.status, 404);
  });
});
