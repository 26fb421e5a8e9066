// The PostgreSQL gateway's session records (shared/session-log.ts): the
// `session` line, one `statement` line per completed statement (batched:
// within FLUSH_MS), and an `end` line with the byte counts.

import { createSessionRecords, type BaseSessionRecord } from '../shared/session-log.js';

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
  end(input: { at: number; reason: string; bytesIn: number; bytesOut: number }): Promise<void>;
}

export interface SessionLog {
  open(header: Omit<SessionRecord, 'endedAt' | 'endReason' | 'bytesIn' | 'bytesOut' | 'statements' | 'statementsDropped'>): Promise<SessionLogHandle>;
  /** Live and recently ended sessions, newest first. */
  list(): SessionRecord[];
  get(sessionId: string): SessionRecord | undefined;
  fileOf(sessionId: string): string;
}

export function createSessionLog(opts: { dir: string; keepSessions?: number; keepStatements?: number }): SessionLog {
  const keepStatements = opts.keepStatements ?? 1000;
  const records = createSessionRecords<SessionRecord>({ dir: opts.dir, gateway: 'postgres', keepSessions: opts.keepSessions });

  async function open(header: Parameters<SessionLog['open']>[0]): Promise<SessionLogHandle> {
    const record: SessionRecord = { ...header, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, statements: [], statementsDropped: 0 };
    const file = await records.open(record, header);
    return {
      record,
      statement(s) {
        file.writeSoon('statement', s);
        record.statements.push(s);
        if (record.statements.length > keepStatements) {
          record.statements.shift();
          record.statementsDropped++;
        }
      },
      async end(input) {
        record.bytesIn = input.bytesIn;
        record.bytesOut = input.bytesOut;
        await file.end(input, { bytesIn: input.bytesIn, bytesOut: input.bytesOut, statements: record.statements.length + record.statementsDropped });
      },
    };
  }

  return { open, list: records.list, get: records.get, fileOf: records.fileOf };
}
