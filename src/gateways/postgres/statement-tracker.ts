// Follows the conversation in both directions and turns it into statements:
// a simple Query runs until its ReadyForQuery; an Execute (extended protocol)
// until its CommandComplete / EmptyQuery / PortalSuspended / ErrorResponse.
// Row counts come from the command tag. Bind parameters are never recorded,
// only how many there were; SQL text is scrubbed of password literals.

import type { DatabaseError } from 'pg-protocol/dist/messages.js';
import { scrub } from '../../core/scrub.js';
import { decodeBackend, parseBind, parseExecute, parseParse, parseQuery } from './frames.js';

export interface StatementEntry {
  /** ISO time the statement was sent. */
  at: string;
  protocol: 'simple' | 'extended';
  sql: string;
  ms: number;
  /** Rows from the command tag (SELECT n, INSERT 0 n, UPDATE n, …); null for tags without a count. */
  rows: number | null;
  /** Bind parameters (extended protocol): the count only, values redacted. */
  params?: number;
  error?: string;
}

// One shape for every pending statement (fields always present): this runs for every message.
interface Pending {
  protocol: 'simple' | 'extended';
  sql: string;
  startedAt: number;
  rows: number | null;
  params: number | undefined;
  error: string | undefined;
}

// Message type bytes, compared as numbers on the hot path.
const Query = 0x51; // Q
const Parse = 0x50; // P
const Bind = 0x42; // B
const Execute = 0x45; // E
const Close = 0x43; // C
const CommandComplete = 0x43; // C
const ErrorResponse = 0x45; // E
const ReadyForQuery = 0x5a; // Z
const EmptyQueryResponse = 0x49; // I
const PortalSuspended = 0x73; // s

/** Longest SQL text kept in the log per statement. */
export const MAX_LOGGED_SQL = 16 * 1024;

/**
 * Prepared statements and portals remembered per connection, to name the SQL
 * an Execute runs: each of the two at most MAX_TRACKED, with at most
 * MAX_TRACKED_SQL_CHARS of SQL text. PostgreSQL sets no limit (and a statement
 * the server refused is still seen here), so past these the oldest are
 * forgotten: an Execute of one then logs as `<prepared statement "name">`
 * (or `<portal "name">`).
 */
export const MAX_TRACKED = 4096;
export const MAX_TRACKED_SQL_CHARS = 4 * 1024 * 1024;

const countedTags = /^(?:SELECT|INSERT \d+|UPDATE|DELETE|COPY|FETCH|MOVE|MERGE) (\d+)$/;

export function rowsFromTag(tag: string): number | null {
  const m = countedTags.exec(tag);
  return m ? Number(m[1]) : null;
}

function clip(sql: string): string {
  const clean = scrub(sql);
  if (clean.length <= MAX_LOGGED_SQL) return clean;
  // A copy, not a slice: V8 keeps a slice's whole parent string alive with it.
  return `${Buffer.from(clean.slice(0, MAX_LOGGED_SQL), 'utf8').toString('utf8')}…`;
}

/** Frontend types captured: Query, Parse, Bind, Execute, Close. */
export const CLIENT_CAPTURE = new Set(['Q', 'P', 'B', 'E', 'C'].map((c) => c.charCodeAt(0)));
/** Backend types captured: CommandComplete, ErrorResponse, ReadyForQuery, EmptyQueryResponse, PortalSuspended. */
export const SERVER_CAPTURE = new Set(['C', 'E', 'Z', 'I', 's'].map((c) => c.charCodeAt(0)));

export class StatementTracker {
  private readonly statements = new Map<string, string>();
  private statementChars = 0;
  private readonly portals = new Map<string, { sql: string; params: number | null }>();
  private portalChars = 0;
  private readonly queue: Pending[] = [];

  constructor(
    private readonly now: () => number,
    private readonly emit: (s: StatementEntry) => void,
  ) {}

  fromClient(type: number, body: Buffer): void {
    switch (type) {
      case Query:
        this.queue.push({ protocol: 'simple', sql: clip(parseQuery(body)), startedAt: this.now(), rows: null, params: undefined, error: undefined });
        break;
      case Parse: {
        const p = parseParse(body);
        this.forgetStatement(p.statement);
        const sql = clip(p.sql);
        this.statements.set(p.statement, sql);
        this.statementChars += sql.length;
        for (const oldest of this.statements.keys()) {
          if (this.statements.size <= MAX_TRACKED && this.statementChars <= MAX_TRACKED_SQL_CHARS) break;
          this.forgetStatement(oldest);
        }
        break;
      }
      case Bind: {
        const b = parseBind(body);
        this.forgetPortal(b.portal);
        const sql = this.statements.get(b.statement) ?? `<prepared statement ${JSON.stringify(b.statement)}>`;
        this.portals.set(b.portal, { sql, params: b.paramCount });
        // Its own budget: a portal keeps its statement's text even once the statement is forgotten.
        this.portalChars += sql.length;
        for (const oldest of this.portals.keys()) {
          if (this.portals.size <= MAX_TRACKED && this.portalChars <= MAX_TRACKED_SQL_CHARS) break;
          this.forgetPortal(oldest);
        }
        break;
      }
      case Execute: {
        const { portal } = parseExecute(body);
        const p = this.portals.get(portal);
        this.queue.push({
          protocol: 'extended',
          sql: p?.sql ?? `<portal ${JSON.stringify(portal)}>`,
          startedAt: this.now(),
          rows: null,
          params: p?.params ?? undefined,
          error: undefined,
        });
        break;
      }
      case Close: {
        // Close: 'S' statement or 'P' portal, then its name.
        const kind = String.fromCharCode(body[0] ?? 0);
        const end = body.indexOf(0, 1);
        const name = body.toString('utf8', 1, end < 0 ? body.length : end);
        if (kind === 'S') this.forgetStatement(name);
        else this.forgetPortal(name);
        break;
      }
    }
  }

  fromServer(type: number, body: Buffer): void {
    const head = this.queue[0];
    if (type === CommandComplete) {
      // CommandComplete is one C string, the tag (pg-protocol's parser would cost a copy and a parser per message).
      const end = body.indexOf(0);
      const tag = body.toString('utf8', 0, end < 0 ? body.length : end);
      const rows = rowsFromTag(tag);
      if (!head) return;
      if (head.protocol === 'simple') {
        // One Query may hold several statements; their counts add up.
        if (rows !== null) head.rows = (head.rows ?? 0) + rows;
      } else {
        head.rows = rows;
        this.finish();
      }
    } else if (type === ErrorResponse) {
      const e = decodeBackend(frame(type, body)) as DatabaseError;
      if (!head) return;
      head.error ??= `${e.code ?? ''} ${e.message}`.trim();
      // After an error in the extended protocol the server skips to Sync.
      if (head.protocol === 'extended') this.finish();
    } else if (type === EmptyQueryResponse || type === PortalSuspended) {
      if (head?.protocol === 'extended') this.finish();
    } else if (type === ReadyForQuery) {
      // A simple Query ends here; Executes still queued were skipped after an error.
      if (head?.protocol === 'simple') this.finish();
      while (this.queue[0]?.protocol === 'extended') {
        this.queue[0].error ??= 'not executed: an earlier message in the same batch failed';
        this.finish();
      }
    }
  }

  private forgetPortal(name: string): void {
    const p = this.portals.get(name);
    if (!p) return;
    this.portals.delete(name);
    this.portalChars -= p.sql.length;
  }

  private forgetStatement(name: string): void {
    const sql = this.statements.get(name);
    if (sql === undefined) return;
    this.statements.delete(name);
    this.statementChars -= sql.length;
  }

  /** Statements still running when the session ends are logged as cut. */
  flush(reason: string): void {
    while (this.queue.length) {
      this.queue[0]!.error ??= `session ended (${reason}) before the statement completed`;
      this.finish();
    }
  }

  private finish(): void {
    const p = this.queue.shift();
    if (!p) return;
    const end = this.now();
    const entry: StatementEntry = { at: new Date(p.startedAt).toISOString(), protocol: p.protocol, sql: p.sql, ms: end - p.startedAt, rows: p.rows };
    if (p.params !== undefined) entry.params = p.params;
    if (p.error !== undefined) entry.error = p.error;
    this.emit(entry);
  }
}

function frame(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
