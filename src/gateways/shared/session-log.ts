// Session records: one JSON-lines file per session (DIR/<sessionId>.jsonl,
// 0600) written as the session goes — a `session` line at the start, the
// gateway's own lines as things happen, an `end` line at the close — so a
// broker crash loses at most the line in flight. Recent sessions are also
// kept in memory for the API. The layout is documented in
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

export interface SessionFile {
  /** Appends one line `{ type, sessionId, ...fields }`. */
  write(type: string, fields: object): void;
  /** Marks the record ended, writes the `end` line with `fields`, and closes the file. */
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

export function createSessionRecords<R extends BaseSessionRecord>(opts: { dir: string; gateway: 'postgres' | 'ssh'; keepSessions?: number }): SessionRecords<R> {
  const keepSessions = opts.keepSessions ?? 500;
  const recent: R[] = [];
  let dirReady: Promise<unknown> | null = null;
  const fileOf = (id: string) => join(opts.dir, `${id}.jsonl`);

  async function open(record: R, header: object): Promise<SessionFile> {
    dirReady ??= mkdir(opts.dir, { recursive: true, mode: 0o700 });
    await dirReady;
    const out: WriteStream = createWriteStream(fileOf(record.sessionId), { flags: 'wx', mode: 0o600 });
    out.on('error', () => {});
    const line = (o: object) => out.write(`${JSON.stringify(o)}\n`);
    line({ type: 'session', gateway: opts.gateway, ...header });
    recent.unshift(record);
    if (recent.length > keepSessions) {
      // Evict the oldest ended session; live ones stay listed however many there are.
      const i = recent.findLastIndex((r) => r.endedAt !== null);
      if (i >= 0) recent.splice(i, 1);
    }
    return {
      write: (type, fields) => line({ type, sessionId: record.sessionId, ...fields }),
      async end(input, fields = {}) {
        record.endedAt = new Date(input.at).toISOString();
        record.endReason = input.reason;
        line({ type: 'end', sessionId: record.sessionId, endedAt: record.endedAt, reason: input.reason, ...fields });
        await new Promise<void>((resolve) => out.end(resolve));
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
