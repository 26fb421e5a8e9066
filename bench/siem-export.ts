// SIEM export throughput (src/export/, core/audit/export-worker.ts): N audit
// events in a SQLite store delivered to a real rsyslog (Debian) over TCP by
// the export worker, against writing the same RFC 5424 lines to the same
// rsyslog over one raw socket, in the same run; the JSON-lines sink against
// appending the same lines to a file; and the store's audit append rate for
// scale. Usage: node --import tsx bench/siem-export.ts [EVENTS]

import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import pino from 'pino';
import { canonicalJson } from '../src/core/audit/chain.js';
import { createExportWorker, exportPositionKey, type AuditSink } from '../src/core/audit/export-worker.js';
import type { AuditEvent } from '../src/core/types.js';
import { createJsonlSink } from '../src/export/jsonl-sink.js';
import { createSyslogSink, syslogMessage } from '../src/export/syslog-sink.js';
import { openStore } from '../src/store/index.js';
import { startRsyslog } from '../src/testing/servers/rsyslog.js';

const n = Number(process.argv[2] ?? 50_000);
const dir = await mkdtemp(join(tmpdir(), 'stint-bench-siem-'));
const store = await openStore({ kind: 'sqlite', path: join(dir, 'stint.db') });
await store.migrate();
const rsyslog = await startRsyslog();
const rate = (count: number, ms: number) => `${Math.round((count * 1000) / ms).toLocaleString('en')} events/s`;

try {
  const t = performance.now();
  for (let i = 0; i < n; i += 1000) {
    await store.transaction(async (tx) => {
      for (let j = i; j < Math.min(n, i + 1000); j++)
        await tx.appendAudit({
          at: Date.now(),
          actor: `u${j % 300}`,
          action: 'grant.activated',
          requestId: `req_${j}`,
          grantId: `gr_${j}`,
          details: { account: `stint_u${j}` },
        });
    });
  }
  const appendMs = performance.now() - t;
  console.log(`store: ${n} audit events appended in ${(appendMs / 1000).toFixed(1)} s (${rate(n, appendMs)}, 1,000 per transaction)`);

  const events: AuditEvent[] = [];
  for (let after = 0; ;) {
    const page = await store.listAudit({ afterSeq: after, limit: 5000 });
    if (page.length === 0) break;
    events.push(...page);
    after = page[page.length - 1]!.seq;
  }
  const log = pino({ level: 'silent' });
  const exportAll = async (sink: AuditSink) => {
    await store.setMeta(exportPositionKey(sink.name), '0'); // every round sends all n
    const worker = createExportWorker({ store, sinks: [sink], log });
    const start = performance.now();
    worker.start();
    await worker.drained();
    const ms = performance.now() - start;
    await worker.stop();
    return ms;
  };

  // Raw: the same lines over one connection, done once rsyslog has closed its side after reading them.
  const lines = events.map((e) => syslogMessage(e, hostname(), 'stint')).join('');
  const rawSyslog = async () => {
    const start = performance.now();
    const s = net.connect({ host: '127.0.0.1', port: rsyslog.port });
    await new Promise((r) => s.once('connect', r));
    const closed = new Promise((r) => s.once('close', r));
    s.on('data', () => {});
    s.end(lines);
    await closed;
    return performance.now() - start;
  };
  const jsonl = events.map((e) => `${canonicalJson(e)}\n`).join('');
  const rawFile = async (i: number) => {
    const start = performance.now();
    const out = createWriteStream(join(dir, `raw-${i}.jsonl`), { flags: 'a' });
    await new Promise<void>((resolve, reject) => out.end(jsonl, () => resolve()).on('error', reject));
    return performance.now() - start;
  };

  // Two rounds, alternating which goes first.
  const stintSyslog = () => exportAll(createSyslogSink({ host: '127.0.0.1', port: rsyslog.port }));
  for (let round = 1; round <= 2; round++) {
    let stint: number;
    let raw: number;
    if (round === 1) {
      stint = await stintSyslog();
      raw = await rawSyslog();
    } else {
      raw = await rawSyslog();
      stint = await stintSyslog();
    }
    console.log(`syslog TCP to rsyslog, round ${round}: Stint ${rate(n, stint)}, raw socket ${rate(n, raw)} (Stint at ${(raw / stint).toFixed(2)}× raw)`);
    const f = await exportAll(createJsonlSink({ dir: join(dir, `export-${round}`), maxBytes: 64 * 1024 * 1024, keep: 10 }));
    const rf = await rawFile(round);
    console.log(
      `JSON-lines files, round ${round}: Stint ${rate(n, f)} (synced per batch of 1,000), raw append ${rate(n, rf)} (not synced) (Stint at ${(rf / f).toFixed(2)}× raw)`,
    );
  }
} finally {
  await rsyslog.destroy();
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
