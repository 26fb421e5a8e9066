// Audit events to rotating JSON-lines files: DIR/audit-<first seq>.jsonl,
// one event per line exactly as `stint audit export` writes it (the event as
// hashed, with its seq and hash). A batch is confirmed once written and
// synced; a new file starts when the current one passes maxBytes, and only
// the newest `keep` files stay.

import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../core/audit/chain.js';
import type { AuditSink } from '../core/audit/export-worker.js';

const fileName = /^audit-(\d{12})\.jsonl$/;

export function createJsonlSink(o: { dir: string; maxBytes: number; keep: number }): AuditSink {
  return {
    name: 'file',
    async send(events) {
      await mkdir(o.dir, { recursive: true, mode: 0o700 });
      const files = (await readdir(o.dir)).filter((f) => fileName.test(f)).sort();
      let current = files[files.length - 1];
      if (current === undefined || (await stat(join(o.dir, current))).size >= o.maxBytes) {
        current = `audit-${String(events[0]!.seq).padStart(12, '0')}.jsonl`;
        files.push(current);
      }
      const fh = await open(join(o.dir, current), 'a', 0o600);
      try {
        await fh.write(events.map((e) => `${canonicalJson(e)}\n`).join(''));
        await fh.sync();
      } finally {
        await fh.close();
      }
      for (const old of [...new Set(files)].slice(0, Math.max(0, new Set(files).size - o.keep))) await rm(join(o.dir, old), { force: true });
    },
    close: async () => {},
  };
}
