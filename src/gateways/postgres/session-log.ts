// The PostgreSQL gateway's session records (shared/session-log.ts): the
// `session` line, one `statement` line per completed statement (batched:
// within FLUSH_MS), and an `end` line with the byte counts.

import type { RecordingDigest } from '../shared/recording-digest.js';
import { createSessionRecords, type BaseSessionRecord, type RecordingCopyDeps } from '../shared/session-log.js';

export { FLUSH_MS } from '../shared/session-log.js';
import type { StatementEntry } from './statement-tracker.js';

export interface SessionRecord extends BaseSessionRecord {
  tls: boolean;
  bytesIn: number;
  bytesOut: number;
  statements: StatementEntry[];
  /** Statements not kept in memory (the file has them all). */
  statementsDropped: number;
}

export interface SessionLogHandle {
  readonly record: SessionRecord;
  statement(s: StatementEntry): void;
  end(input: { at: number; reason: string; bytesIn: number; bytesOut: number }): Promise<RecordingDigest | null>;
}

export interface SessionLog {
  open(header: Omit<SessionRecord, 'endedAt' | 'endReason' | 'bytesIn' | 'bytesOut' | 'statements' | 'statementsDropped'>): Promise<SessionLogHandle>;
  /** Live and recently ended sessions, newest first. */
  list(): SessionRecord[];
  get(sessionId: string): SessionRecord | undefined;
  fileOf(sessionId: string): string;
}

/**
 * The newest statements of each session kept in memory: at most
 * `keepStatements` of them and `keepStatementChars` of their SQL (the file has
 * them all). With up to 500 recent sessions kept, this bounds the memory the
 * log holds (a statement's SQL may be 16 KiB).
 */
export function createSessionLog(opts: {
  dir: string;
  keepSessions?: number;
  keepStatements?: number;
  keepStatementChars?: number;
  copy?: RecordingCopyDeps;
}): SessionLog {
  const keepStatements = opts.keepStatements ?? 1000;
  const keepStatementChars = opts.keepStatementChars ?? 64 * 1024;
  const records = createSessionRecords<SessionRecord>({ dir: opts.dir, gateway: 'postgres', keepSessions: opts.keepSessions, copy: opts.copy });

  async function open(header: Parameters<SessionLog['open']>[0]): Promise<SessionLogHandle> {
    const record: SessionRecord = { ...header, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, statements: [], statementsDropped: 0 };
    const file = await records.open(record, header);
    let chars = 0;
    return {
      record,
      statement(s) {
        file.writeSoon('statement', s);
        record.statements.push(s);
        chars += s.sql.length;
        while (record.statements.length > 1 && (record.statements.length > keepStatements || chars > keepStatementChars)) {
          chars -= record.statements.shift()!.sql.length;
          record.statementsDropped++;
        }
      },
      async end(input) {
        record.bytesIn = input.bytesIn;
        record.bytesOut = input.bytesOut;
        return file.end(input, { bytesIn: input.bytesIn, bytesOut: input.bytesOut, statements: record.statements.length + record.statementsDropped });
      },
    };
  }

  return { open, list: records.list, get: records.get, fileOf: records.fileOf };
}
