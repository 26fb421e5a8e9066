// Session records: one JSON-lines file per session (DIR/<sessionId>.jsonl,
// 0600) written as the session goes — a `session` line at the start, the
// gateway's own lines as things happen, an `end` line at the close. Frequent
// lines (statements) may be written in batches (`writeSoon`: within FLUSH_MS,
// or once FLUSH_BYTES are waiting): one file write per statement cost more
// than relaying the statement itself (bench/gateways.ts), and a broker crash
// loses at most the last FLUSH_MS of them. Recent sessions are also kept in
// memory for the API, at once. The layout is documented in
// api/sessions-reader.ts, which reads it.

import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** What every gateway records about a session. */
export interface BaseSessionRecord {
  sessionId: string;
  user: string;
  profile: string;
  target: string;
  grantId: string;
  account: string;
  /** Session-bound grant (made for this connection, revoked at its end) or an existing approved grant. */
  grantKind: 'session-bound' | 'existing';
  client: string;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
}

/** Longest a batched line waits before it is written. */
export const FLUSH_MS = 50;
/** Waiting lines are written at once when they reach this size. */
const FLUSH_BYTES = 64 * 1024;

export interface SessionFile {
  /** Appends one line `{ type, sessionId, ...fields }` now (after any waiting batched lines). */
  write(type: string, fields: object): void;
  /** The same, batched: written within FLUSH_MS. */
  writeSoon(type: string, fields: object): void;
  /** Writes the `end` line with `fields`, closes the file, then marks the record ended. */
  end(input: { at: number; reason: string }, fields?: object): Promise<void>;
}

export interface SessionRecords<R extends BaseSessionRecord> {
  /** Creates the file (never overwriting one) and writes the `session` line from `header`. */
  open(record: R, header: object): Promise<SessionFile>;
  /** Live and recently ended sessions, newest first. */
  list(): R[];
  get(sessionId: string): R | undefined;
  fileOf(sessionId: string): string;
  castFile(sessionId: string, channel: number): string;
}

export function createSessionRecords<R extends BaseSessionRecord>(opts: {
  dir: string;
  gateway: 'postgres' | 'ssh';
  keepSessions?: number;
}): SessionRecords<R> {
  const keepSessions = opts.keepSessions ?? 500;
  const recent: R[] = [];
  let dirReady: Promise<unknown> | null = null;
  const fileOf = (id: string) => join(opts.dir, `${id}.jsonl`);

  async function open(record: R, header: object): Promise<SessionFile> {
    dirReady ??= mkdir(opts.dir, { recursive: true, mode: 0o700 });
    await dirReady;
    const out: WriteStream = createWriteStream(fileOf(record.sessionId), { flags: 'wx', mode: 0o600 });
    out.on('error', () => {});
    let pending = '';
    let timer: NodeJS.Timeout | null = null;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (pending) out.write(pending);
      pending = '';
    };
    // Lines stay in order: an immediate line first lets the waiting ones out.
    const line = (o: object) => {
      pending += `${JSON.stringify(o)}\n`;
      flush();
    };
    const lineSoon = (o: object) => {
      pending += `${JSON.stringify(o)}\n`;
      if (pending.length >= FLUSH_BYTES) flush();
      else if (!timer) {
        timer = setTimeout(flush, FLUSH_MS);
        timer.unref();
      }
    };
    line({ type: 'session', gateway: opts.gateway, ...header });
    recent.unshift(record);
    if (recent.length > keepSessions) {
      // Evict the oldest ended session; live ones stay listed however many there are.
      const i = recent.findLastIndex((r) => r.endedAt !== null);
      if (i >= 0) recent.splice(i, 1);
    }
    return {
      write: (type, fields) => line({ type, sessionId: record.sessionId, ...fields }),
      writeSoon: (type, fields) => lineSoon({ type, sessionId: record.sessionId, ...fields }),
      async end(input, fields = {}) {
        const endedAt = new Date(input.at).toISOString();
        // The waiting lines and the end line go out in one write.
        line({ type: 'end', sessionId: record.sessionId, endedAt, reason: input.reason, ...fields });
        await new Promise<void>((resolve) => out.end(resolve));
        // Marked ended once the file is complete: whoever sees the mark can read the whole record.
        record.endedAt = endedAt;
        record.endReason = input.reason;
      },
    };
  }

  return {
    open,
    list: () => [...recent],
    get: (id) => recent.find((r) => r.sessionId === id),
    fileOf,
    castFile: (id, n) => join(opts.dir, `${id}-${n}.cast`),
  };
}
