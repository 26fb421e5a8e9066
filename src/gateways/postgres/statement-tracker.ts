// Follows the conversation in both directions and turns it into statements:
// a simple Query runs until its ReadyForQuery; an Execute (extended protocol)
// until its CommandComplete / EmptyQuery / PortalSuspended / ErrorResponse.
// Row counts come from the command tag. Bind parameters are never recorded,
// only how many there were; SQL text is scrubbed of password literals.

import { createHash } from 'node:crypto';
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
  /** Set when the SQL was longer than MAX_LOGGED_SQL: `sql` then holds its beginning only. */
  cut?: StatementCut;
}

/** What identifies a statement too long to log whole: its size, its hash, and its end (`sql` has its beginning). */
export interface StatementCut {
  /** Length of the SQL text as sent, in bytes (UTF-8). */
  bytes: number;
  /** SHA-256 of those bytes, hex: the statement run can be matched against a copy kept elsewhere. */
  sha256: string;
  /** Its last MAX_LOGGED_TAIL characters (scrubbed). */
  tail: string;
}

/** A statement's SQL as logged. */
interface Logged {
  sql: string;
  cut: StatementCut | undefined;
}

// One shape for every pending statement (fields always present): this runs for every message.
interface Pending {
  protocol: 'simple' | 'extended';
  sql: string;
  startedAt: number;
  rows: number | null;
  params: number | undefined;
  error: string | undefined;
  cut: StatementCut | undefined;
}

// Message type bytes, compared as numbers on the hot path.
const Query = 0x51; // Q
const Parse = 0x50; // P
const Bind = 0x42; // B
const Execute = 0x45; // E
const Close = 0x43; // C
const FunctionCall = 0x46; // F
const CommandComplete = 0x43; // C
const ErrorResponse = 0x45; // E
const ReadyForQuery = 0x5a; // Z
const EmptyQueryResponse = 0x49; // I
const PortalSuspended = 0x73; // s

/** Longest SQL text kept in the log per statement. */
export const MAX_LOGGED_SQL = 16 * 1024;
/** Characters kept from the end of a statement longer than MAX_LOGGED_SQL. */
export const MAX_LOGGED_TAIL = 1024;

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

/** A copy, not a slice: V8 keeps a slice's whole parent string alive with it. */
const copy = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** The SQL as logged: scrubbed, and past MAX_LOGGED_SQL its beginning plus what identifies the whole (`raw`: its bytes as sent). */
function clip(sql: string, raw: Buffer): Logged {
  const clean = scrub(sql);
  if (clean.length <= MAX_LOGGED_SQL) return { sql: clean, cut: undefined };
  return {
    sql: `${copy(clean.slice(0, MAX_LOGGED_SQL))}…`,
    cut: { bytes: raw.length, sha256: createHash('sha256').update(raw).digest('hex'), tail: copy(clean.slice(-MAX_LOGGED_TAIL)) },
  };
}

/** Characters a logged statement holds in memory (its tail counts towards the tracker's budget too). */
const charsOf = (l: { sql: string; cut: StatementCut | undefined }): number => l.sql.length + (l.cut?.tail.length ?? 0);

/** The bytes of the C string at `at` (to its terminator, or the end of what was captured). */
function cstringBytes(body: Buffer, at: number): Buffer {
  const end = body.indexOf(0, at);
  return body.subarray(at, end < 0 ? body.length : end);
}

/** Frontend types captured: Query, Parse, Bind, Execute, Close, FunctionCall. */
export const CLIENT_CAPTURE = new Set(['Q', 'P', 'B', 'E', 'C', 'F'].map((c) => c.charCodeAt(0)));
/** Backend types captured: CommandComplete, ErrorResponse, ReadyForQuery, EmptyQueryResponse, PortalSuspended. */
export const SERVER_CAPTURE = new Set(['C', 'E', 'Z', 'I', 's'].map((c) => c.charCodeAt(0)));

export class StatementTracker {
  private readonly statements = new Map<string, Logged>();
  private statementChars = 0;
  private readonly portals = new Map<string, { sql: string; cut: StatementCut | undefined; params: number | null }>();
  private portalChars = 0;
  private readonly queue: Pending[] = [];

  constructor(
    private readonly now: () => number,
    private readonly emit: (s: StatementEntry) => void,
  ) {}

  fromClient(type: number, body: Buffer): void {
    switch (type) {
      case Query: {
        const { sql, cut } = clip(parseQuery(body), cstringBytes(body, 0));
        this.queue.push({ protocol: 'simple', sql, startedAt: this.now(), rows: null, params: undefined, error: undefined, cut });
        break;
      }
      case Parse: {
        const p = parseParse(body);
        this.forgetStatement(p.statement);
        const logged = clip(p.sql, cstringBytes(body, body.indexOf(0) + 1));
        this.statements.set(p.statement, logged);
        this.statementChars += charsOf(logged);
        for (const oldest of this.statements.keys()) {
          if (this.statements.size <= MAX_TRACKED && this.statementChars <= MAX_TRACKED_SQL_CHARS) break;
          this.forgetStatement(oldest);
        }
        break;
      }
      case Bind: {
        const b = parseBind(body);
        this.forgetPortal(b.portal);
        const st = this.statements.get(b.statement);
        const sql = st?.sql ?? `<prepared statement ${JSON.stringify(b.statement)}>`;
        this.portals.set(b.portal, { sql, cut: st?.cut, params: b.paramCount });
        // Its own budget: a portal keeps its statement's text even once the statement is forgotten.
        this.portalChars += charsOf({ sql, cut: st?.cut });
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
          cut: p?.cut,
        });
        break;
      }
      case FunctionCall: {
        // The fast-path function call runs a function by OID without SQL; it ends at ReadyForQuery as a Query does.
        if (body.length < 6) throw new Error('FunctionCall message too short');
        const sql = `<function call: oid ${body.readUInt32BE(0)}>`;
        this.queue.push({ protocol: 'simple', sql, startedAt: this.now(), rows: null, params: undefined, error: undefined, cut: undefined });
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
    this.portalChars -= charsOf(p);
  }

  private forgetStatement(name: string): void {
    const st = this.statements.get(name);
    if (st === undefined) return;
    this.statements.delete(name);
    this.statementChars -= charsOf(st);
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
    if (p.cut !== undefined) entry.cut = p.cut;
    this.emit(entry);
  }
}

function frame(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
