// Signed audit checkpoints end to end: a real broker and target, the real
// `stint` binary, someone with write access to the store rebuilding the chain,
// and the documented procedure (docs/operations.md) run with sha256sum and
// openssl on a real export.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { runBinary } from '../../cli/testing/fake-api.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import type { AuditEvent } from '../types.js';
import { hashEvent } from './chain.js';

const run = promisify(execFile);
const docs = fileURLToPath(new URL('../../../docs/operations.md', import.meta.url));

/** The shell script docs/operations.md gives for checking an export without Stint. */
async function documentedScript(): Promise<string> {
  const text = await readFile(docs, 'utf8');
  const m = /```sh\n(# check-export\.sh[\s\S]*?)```/.exec(text);
  assert.ok(m, 'docs/operations.md has the check-export.sh block');
  return m[1]!;
}

describe('signed audit checkpoints', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;
  let dir: string;
  const cli = (token: string, ...args: string[]) =>
    runBinary(args, { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', STINT_SERVER: url, STINT_TOKEN: token });

  async function someEvents(n: number): Promise<void> {
    const alice = await broker.token('alice');
    for (let i = 0; i < n; i++) {
      const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m', reason: `job "${i}" <b>x</b>` });
      assert.equal(r.status, 201, r.raw);
      const revoked = await broker.call(alice, 'POST', `/v1/grants/${r.body.grant.id}/revoke`);
      assert.equal(revoked.status, 200, revoked.raw);
    }
  }

  before(async () => {
    target = await createTestTarget();
    // Checkpoints only when the test asks for them.
    broker = await startTestBroker({ target, editConfig: (t) => t.replace('broker:\n', 'broker:\n  auditCheckpoint: { everyEvents: 1000000, every: 24h }\n') });
    url = await broker.app.listen('127.0.0.1', 0);
    dir = broker.dataDir;
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  it('signs checkpoints, verifies against them in the CLI, and the documented script checks an export with sha256sum and openssl', async () => {
    await someEvents(3);
    const pub = await cli(broker.adminToken, 'audit', 'public-key');
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stdout, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    await writeFile(join(dir, 'audit.pem'), pub.stdout);

    const first = await cli(broker.adminToken, 'audit', 'checkpoint');
    assert.equal(first.code, 0, first.stderr);
    const cp1 = JSON.parse(first.stdout);
    await someEvents(2);
    const second = await cli(broker.adminToken, 'audit', 'checkpoint');
    const cp2 = JSON.parse(second.stdout);
    assert.equal(cp2.fromSeq, cp1.seq);
    assert.ok(cp2.seq > cp1.seq);
    await writeFile(join(dir, 'cp2.json'), second.stdout);
    // Nothing new: the same checkpoint again, not a new signature.
    assert.deepEqual(JSON.parse((await cli(broker.adminToken, 'audit', 'checkpoint')).stdout), cp2);

    const ok = await cli(broker.adminToken, 'audit', 'verify', '--signed', join(dir, 'cp2.json'), '--public-key', join(dir, 'audit.pem'));
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`consistent with the signed checkpoint at seq ${cp2.seq}`));

    const exported = await cli(broker.adminToken, 'audit', 'export');
    assert.equal(exported.code, 0, exported.stderr);
    assert.ok(exported.stdout.split('\n').filter(Boolean).length >= cp2.seq);
    await writeFile(join(dir, 'events.jsonl'), exported.stdout);
    await writeFile(join(dir, 'check-export.sh'), await documentedScript());
    const script = await run('bash', [join(dir, 'check-export.sh'), join(dir, 'events.jsonl'), join(dir, 'cp2.json'), join(dir, 'audit.pem')]);
    assert.match(script.stdout, /Signature Verified Successfully/);
    assert.match(script.stdout, new RegExp(`export consistent with the signed checkpoint at seq ${cp2.seq}`));
    const offline = await runBinary(
      ['audit', 'verify', '--signed', join(dir, 'cp2.json'), '--public-key', join(dir, 'audit.pem'), '--file', join(dir, 'events.jsonl')],
      { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
    );
    assert.equal(offline.code, 0, offline.stderr);

    // An edited export fails both, naming the event.
    const lines = exported.stdout.split('\n');
    lines[1] = lines[1]!.replace('"actor":"', '"actor":"x');
    await writeFile(join(dir, 'edited.jsonl'), lines.join('\n'));
    await assert.rejects(
      run('bash', [join(dir, 'check-export.sh'), join(dir, 'edited.jsonl'), join(dir, 'cp2.json'), join(dir, 'audit.pem')]),
      (err: { stdout: string }) => /event 2: modified/.test(err.stdout),
    );
    const bad = await runBinary(
      ['audit', 'verify', '--signed', join(dir, 'cp2.json'), '--public-key', join(dir, 'audit.pem'), '--file', join(dir, 'edited.jsonl')],
      { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
    );
    assert.equal(bad.code, 8);
    assert.match(bad.stderr, /BROKEN at event 2/);
  });

  it('a chain rebuilt in the store passes the plain check but not the signed one, which names the first rewritten event', async () => {
    const cp = join(dir, 'cp-before.json');
    const made = await cli(broker.adminToken, 'audit', 'checkpoint');
    await writeFile(cp, made.stdout);
    // Someone with write access to the store: edit event 3 and recompute every later hash.
    const db = new Database(join(dir, 'stint.db'));
    try {
      const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Record<string, any>[];
      let prev: string | null = null;
      const update = db.prepare('UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?');
      db.transaction(() => {
        for (const r of rows) {
          if (r.seq < 3) {
            prev = r.hash;
            continue;
          }
          const e: Omit<AuditEvent, 'hash'> = {
            seq: r.seq,
            at: Number(r.at),
            actor: r.seq === 3 ? 'someone-else' : r.actor,
            action: r.action,
            requestId: r.request_id,
            grantId: r.grant_id,
            target: r.target,
            subjectUser: r.subject_user,
            details: JSON.parse(r.details),
            prevHash: prev!,
          };
          const hash = hashEvent(e);
          update.run(e.actor, e.prevHash, hash, r.seq);
          prev = hash;
        }
        db.prepare('UPDATE audit_head SET hash = ? WHERE id = 1').run(prev);
      })();
    } finally {
      db.close();
    }
    const plain = await cli(broker.adminToken, 'audit', 'verify');
    assert.equal(plain.code, 0, `the plain chain verifies after a consistent rebuild: ${plain.stderr}`);
    const signed = await cli(broker.adminToken, 'audit', 'verify', '--signed', cp, '--public-key', join(dir, 'audit.pem'));
    assert.equal(signed.code, 8, signed.stdout);
    assert.match(signed.stderr, /BROKEN at event 3: event 3 differs from what the broker signed/);
    const asJson = await cli(broker.adminToken, '--json', 'audit', 'verify', '--signed', cp, '--public-key', join(dir, 'audit.pem'));
    assert.equal(asJson.code, 8);
    assert.equal(JSON.parse(asJson.stdout).firstBadSeq, 3);
  });

  it('refuses precisely: another key, a broken file, people who are neither admin nor auditor, a terminal for export', async () => {
    const other = await run('openssl', ['genpkey', '-algorithm', 'ed25519']);
    await writeFile(join(dir, 'other.key'), other.stdout);
    const pub = await run('openssl', ['pkey', '-in', join(dir, 'other.key'), '-pubout']);
    await writeFile(join(dir, 'other.pem'), pub.stdout);
    const wrongKey = await cli(broker.adminToken, 'audit', 'verify', '--signed', join(dir, 'cp2.json'), '--public-key', join(dir, 'other.pem'));
    assert.equal(wrongKey.code, 8);
    assert.match(wrongKey.stderr, /not signed by this public key/);

    await writeFile(join(dir, 'broken.json'), '{"format":"stint-audit-checkpoint/1","seq":0}');
    const broken = await cli(broker.adminToken, 'audit', 'verify', '--signed', join(dir, 'broken.json'), '--public-key', join(dir, 'audit.pem'));
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /broken\.json: the checkpoint file is not a Stint checkpoint: seq:/);
    const noKey = await cli(broker.adminToken, 'audit', 'verify', '--signed', join(dir, 'cp2.json'));
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--signed needs --public-key FILE/);
    const stray = await cli(broker.adminToken, 'audit', 'checkpoint', '--from', '3');
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /--from only applies to: stint audit export/);

    const alice = await broker.token('alice');
    const denied = await cli(alice, 'audit', 'checkpoint');
    assert.equal(denied.code, 3);
    assert.match(denied.stderr, /only admins and auditors/);
    const list = await broker.call(alice, 'GET', '/v1/audit/checkpoints');
    assert.equal(list.status, 403);
  });
});
