// Session records: one JSON-lines file per session (DIR/<sessionId>.jsonl,
// 0600) written as the session goes — a `session` line at the start, the
// gateway's own lines as things happen, an `end` line at the close. Frequent
// lines (statements) may be written in batches (`writeSoon`: within FLUSH_MS,
// or once FLUSH_BYTES are waiting): one file write per statement cost more
// than relaying the statement itself (bench/gateways.ts), and a broker crash
// loses at most the last FLUSH_MS of them. Recent sessions are also kept in
// memory for the API, at once. The layout is documented in
// api/sessions-reader.ts, which reads it. With `copy`, every write also goes
// to the store (recording-copy.ts), where every broker sharing it reads it.

import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { digestSessionFiles, type RecordingDigest } from './recording-digest.js';
import type { Logger } from '../../core/ports.js';
import { openRecordingCopy, type RecordingStore, type StreamCopy } from './recording-copy.js';

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
  /**
   * Writes the `end` line with `fields`, closes the file, then marks the record ended.
   * Answers the SHA-256 of the finished log and of the session's terminal recordings (closed before).
   */
  end(input: { at: number; reason: string }, fields?: object): Promise<RecordingDigest | null>;
  /** The store's copy of channel N's terminal recording; null without a store copy. */
  castCopy(channel: number): StreamCopy | null;
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

/** Where the store's copy goes (the broker's store), when there is one. */
export interface RecordingCopyDeps {
  store: RecordingStore;
  log: Logger;
  now: () => number;
}

export function createSessionRecords<R extends BaseSessionRecord>(opts: {
  dir: string;
  gateway: 'postgres' | 'ssh';
  keepSessions?: number;
  copy?: RecordingCopyDeps;
}): SessionRecords<R> {
  const keepSessions = opts.keepSessions ?? 500;
  const recent: R[] = [];
  let dirReady: Promise<unknown> | null = null;
  const fileOf = (id: string) => join(opts.dir, `${id}.jsonl`);

  async function open(record: R, header: object): Promise<SessionFile> {
    const sessionLine = JSON.stringify({ type: 'session', gateway: opts.gateway, ...header });
    const copy = opts.copy
      ? await openRecordingCopy(opts.copy, {
          sessionId: record.sessionId,
          gateway: opts.gateway,
          user: record.user,
          grantId: record.grantId,
          startedAt: Date.parse(record.startedAt),
          header: sessionLine,
        })
      : null;
    dirReady ??= mkdir(opts.dir, { recursive: true, mode: 0o700 });
    await dirReady;
    const out: WriteStream = createWriteStream(fileOf(record.sessionId), { flags: 'wx', mode: 0o600 });
    out.on('error', () => {});
    let pending = '';
    let timer: NodeJS.Timeout | null = null;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (pending) {
        out.write(pending);
        copy?.log.write(pending);
      }
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
    pending += `${sessionLine}\n`;
    flush();
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
        const endLine = { type: 'end', sessionId: record.sessionId, endedAt, reason: input.reason, ...fields };
        // The waiting lines and the end line go out in one write.
        line(endLine);
        await new Promise<void>((resolve) => out.end(resolve));
        await copy?.end(input.at, JSON.stringify(endLine));
        // Marked ended once the file (and the store's copy) is complete: whoever sees the mark can read the whole record.
        record.endedAt = endedAt;
        record.endReason = input.reason;
        // A digest that cannot be taken must not cost the session its end event: it is then null (and verify says so).
        return digestSessionFiles(opts.dir, record.sessionId).catch(() => null);
      },
      castCopy: (channel) => copy?.cast(channel) ?? null,
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
