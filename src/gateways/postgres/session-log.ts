// Session recordings: one JSON-lines file per session (DIR/<sessionId>.jsonl,
// 0600) written as the session goes — a `session` line at the start, one
// `statement` line per completed statement, an `end` line at the close.
// Statement lines are written in batches (within FLUSH_MS of the statement's
// end, or once FLUSH_BYTES are waiting): one file write per statement cost
// more than relaying the statement itself (bench/gateways.ts), and a broker
// crash loses at most the last FLUSH_MS of statements. Recent sessions are
// also kept in memory for the API, at once.

import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StatementEntry } from './statement-tracker.js';

export interface SessionRecord {
  sessionId: string;
  user: string;
  profile: string;
  target: string;
  grantId: string;
  account: string;
  /** Session-bound grant (made for this connection, revoked at its end) or an existing approved grant. */
  grantKind: 'session-bound' | 'existing';
  client: string;
  tls: boolean;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  bytesIn: number;
  bytesOut: number;
  statements: StatementEntry[];
  /** Statements not kept in memory (the file has them all). */
  statementsDropped: number;
}

export interface SessionLogHandle {
  readonly record: SessionRecord;
  statement(s: StatementEntry): void;
  end(input: { at: number; reason: string; bytesIn: number; bytesOut: number }): Promise<void>;
}

export interface SessionLog {
  open(header: Omit<SessionRecord, 'endedAt' | 'endReason' | 'bytesIn' | 'bytesOut' | 'statements' | 'statementsDropped'>): Promise<SessionLogHandle>;
  /** Live and recently ended sessions, newest first. */
  list(): SessionRecord[];
  get(sessionId: string): SessionRecord | undefined;
  fileOf(sessionId: string): string;
}

/** Longest a statement line waits before it is written. */
export const FLUSH_MS = 50;
/** Waiting lines are written at once when they reach this size. */
const FLUSH_BYTES = 64 * 1024;

export function createSessionLog(opts: { dir: string; keepSessions?: number; keepStatements?: number }): SessionLog {
  const keepSessions = opts.keepSessions ?? 500;
  const keepStatements = opts.keepStatements ?? 1000;
  const recent: SessionRecord[] = [];
  let dirReady: Promise<unknown> | null = null;
  const fileOf = (id: string) => join(opts.dir, `${id}.jsonl`);

  async function open(header: Parameters<SessionLog['open']>[0]): Promise<SessionLogHandle> {
    dirReady ??= mkdir(opts.dir, { recursive: true, mode: 0o700 });
    await dirReady;
    const record: SessionRecord = { ...header, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, statements: [], statementsDropped: 0 };
    const out: WriteStream = createWriteStream(fileOf(header.sessionId), { flags: 'wx', mode: 0o600 });
    out.on('error', () => {});
    const write = (o: object) => out.write(`${JSON.stringify(o)}\n`);
    let pending = '';
    let timer: NodeJS.Timeout | null = null;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (pending) out.write(pending);
      pending = '';
    };
    const writeSoon = (o: object) => {
      pending += `${JSON.stringify(o)}\n`;
      if (pending.length >= FLUSH_BYTES) flush();
      else if (!timer) {
        timer = setTimeout(flush, FLUSH_MS);
        timer.unref();
      }
    };
    write({ type: 'session', ...header });
    recent.unshift(record);
    if (recent.length > keepSessions) {
      const i = recent.findLastIndex((r) => r.endedAt !== null);
      if (i >= 0) recent.splice(i, 1);
    }
    return {
      record,
      statement(s) {
        writeSoon({ type: 'statement', sessionId: header.sessionId, ...s });
        record.statements.push(s);
        if (record.statements.length > keepStatements) {
          record.statements.shift();
          record.statementsDropped++;
        }
      },
      async end(input) {
        record.endedAt = new Date(input.at).toISOString();
        record.endReason = input.reason;
        record.bytesIn = input.bytesIn;
        record.bytesOut = input.bytesOut;
        // The waiting statement lines and the end line go out in one write, as the end line alone did before batching.
        pending += `${JSON.stringify({ type: 'end', sessionId: header.sessionId, endedAt: record.endedAt, reason: input.reason, bytesIn: input.bytesIn, bytesOut: input.bytesOut, statements: record.statements.length + record.statementsDropped })}\n`;
        flush();
        await new Promise<void>((resolve) => out.end(resolve));
      },
    };
  }

  return {
    open,
    list: () => [...recent],
    get: (id) => recent.find((r) => r.sessionId === id),
    fileOf,
  };
}
