// SIEM export against a real rsyslog (Debian): every audit event arrives in
// order with its seq and hash, and in the rotating JSON-lines files; stopping
// rsyslog and restarting the broker mid-stream loses nothing, and the only
// duplicates are whole events a receiver can drop by seq.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashEvent } from '../core/audit/chain.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { rsyslogd, startRsyslog, type RsyslogServer } from '../testing/servers/rsyslog.js';

const seqOf = (line: string) => Number(/seq="(\d+)"/.exec(line)![1]);

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('SIEM export (real rsyslog)', { skip: existsSync(rsyslogd) ? false : 'needs Debian rsyslog' }, () => {
  let target: TestTarget;
  let rsyslog: RsyslogServer;
  let dataDir: string;
  let broker: TestBroker | null = null;
  const start = async () =>
    startTestBroker({
      target,
      dataDir,
      editConfig: (t) =>
        t.replace(
          'broker:\n',
          `broker:\n  auditExport:\n    syslog: { address: "127.0.0.1:${rsyslog.port}" }\n    file: { dir: ${JSON.stringify(join(dataDir, 'export'))}, maxSize: 4096, keep: 1000 }\n`,
        ),
    });

  before(async () => {
    target = await createTestTarget();
    rsyslog = await startRsyslog();
    dataDir = await mkdtemp(join(tmpdir(), 'stint-siem-'));
  });
  after(async () => {
    await broker?.close();
    await rsyslog?.destroy();
    await target?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const activity = async (b: TestBroker, n: number) => {
    const alice = await b.token('alice');
    for (let i = 0; i < n; i++) {
      const r = await b.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m', reason: `siem ${i}` });
      assert.equal(r.status, 201, r.raw);
      await b.call(alice, 'POST', `/v1/grants/${r.body.grant.id}/revoke`);
    }
  };

  it('every event reaches rsyslog in order, through rsyslog and broker restarts, and the files', async () => {
    broker = await start();
    await activity(broker, 3);
    const head1 = (await broker.app.store.auditHead())!.seq;
    await waitFor('rsyslog to have every event', async () => (await rsyslog.received()).length >= head1);

    // rsyslog goes away while events are appended; the broker restarts too.
    await rsyslog.stop();
    await activity(broker, 3);
    await broker.close();
    broker = await start();
    await activity(broker, 2);
    await rsyslog.start();
    const head = (await broker.app.store.auditHead())!.seq;
    await waitFor('rsyslog to catch up', async () => new Set((await rsyslog.received()).map(seqOf)).size >= head);
    await broker.app.auditExport!.drained();

    const lines = await rsyslog.received();
    const seqs = lines.map(seqOf);
    // In order, nothing lost: dropping repeated seqs leaves exactly 1..head.
    const firsts = seqs.filter((s, i) => seqs.indexOf(s) === i);
    assert.deepEqual(
      firsts,
      Array.from({ length: head }, (_, i) => i + 1),
    );
    // A duplicate is a resend of a whole event, byte for byte, never a different one under the same seq.
    const bySeq = new Map<number, string>();
    for (const l of lines) {
      const prev = bySeq.get(seqOf(l));
      if (prev !== undefined) assert.equal(l, prev);
      bySeq.set(seqOf(l), l);
    }
    // Each message carries the event as hashed: the receiver can check the chain.
    const events = firsts.map((s) => JSON.parse(bySeq.get(s)!.slice(bySeq.get(s)!.indexOf('] ') + 2)));
    let prev = events[0].prevHash;
    for (const e of events) {
      assert.equal(e.prevHash, prev);
      const { hash, ...rest } = e;
      assert.equal(hashEvent(rest), hash);
      assert.match(bySeq.get(e.seq)!, new RegExp(`hash="${hash}"`));
      prev = hash;
    }

    // The files: rotated (4 KiB each), named by first seq, together every event once in order.
    const dir = join(dataDir, 'export');
    const files = (await readdir(dir)).sort();
    assert.ok(files.length > 1, files.join(' '));
    const fileSeqs = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8'))))
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).seq as number);
    assert.deepEqual(
      fileSeqs.filter((s, i) => fileSeqs.indexOf(s) === i),
      Array.from({ length: head }, (_, i) => i + 1),
    );
    assert.equal(await broker.app.store.getMeta('audit.export.file'), String(head));
  });
});
