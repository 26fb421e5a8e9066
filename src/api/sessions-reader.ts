// Read model over the session recordings the gateways write, for the API
// (`GET /v1/sessions…`). Sessions still open come from the gateways' in-memory
// lists; everything else from the store's copy (sessions-store-reader.ts),
// which every broker sharing the store reads, then from the files (this
// broker's own, and those written before recordings went to the store).
// Nothing here writes.
//
// File layout (every gateway follows it; the postgres gateway's
// session-log.ts is the reference writer):
//
//   DATA_DIR/sessions/                     directory, 0700
//     <sessionId>.jsonl                    every session, 0600, JSON lines written as the session goes:
//       {"type":"session", sessionId, user, profile, target, grantId, account, grantKind,
//        client, startedAt [, gateway] [, tls] [, clientKey]}
//                                          first line. `gateway`: "postgres" or "ssh"; when absent it
//                                          is "ssh" if the line has clientKey, else "postgres"
//       {"type":"statement", sessionId, at, protocol, sql, ms, rows [, params] [, error]}
//                                          postgres: one per completed statement
//       {"type":"channel", sessionId, channel, at, kind, detail, pty, recording}
//       {"type":"channel-end", sessionId, channel, endedAt, exit}
//                                          ssh: a shell / exec / subsystem / forward and its end
//       {"type":"end", sessionId, endedAt, reason [, bytesIn, bytesOut] [, statements]}
//                                          last line, at the close (absent: the session is open,
//                                          or the broker died while it was)
//     <sessionId>-<channel>.cast           0600, optional: asciicast v2 recording of one terminal
//                                          (ssh: one per pty channel; a header line, then
//                                          [seconds, "o"|"i"|"r", data] events)
//
//   sessionId = "ses_" + 12 characters [a-z0-9] (randomId(12)); channel = a whole number.
//   No other name is ever opened. Line types this reader does not know are
//   skipped, so a gateway may add its own.

import type { Readable } from 'node:stream';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { invalid } from '../core/errors.js';
import type { BaseSessionRecord } from '../gateways/shared/session-log.js';
import { createStoreSessions, type RecordingReadStore, type StoredSession } from './sessions-store-reader.js';
import type { ChannelView, SessionDetailView, SessionView, StatementView } from './views/index.js';

export const sessionIdPattern = /^ses_[a-z0-9]{12}$/;

export function isSessionId(id: string): boolean {
  return sessionIdPattern.test(id);
}

/** Paths of one session's files; refuses anything that is not a gateway-issued id (no traversal). */
export function sessionFiles(dir: string, sessionId: string): { log: string; cast(channel: number): string } {
  if (!isSessionId(sessionId)) throw invalid(`${JSON.stringify(sessionId.slice(0, 40))} is not a session id (ses_ and 12 characters a-z 0-9)`);
  return {
    log: join(dir, `${sessionId}.jsonl`),
    cast: (channel) => {
      if (!Number.isSafeInteger(channel) || channel < 0) throw invalid(`channel must be a whole number, got ${channel}`);
      return join(dir, `${sessionId}-${channel}.cast`);
    },
  };
}

const castName = /^(ses_[a-z0-9]{12})-(\d{1,9})\.cast$/;

/** Session id → channels with a recording, from a directory listing. */
function castsOf(files: Iterable<string>): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const f of files) {
    const r = castName.exec(f);
    if (!r) continue;
    const list = m.get(r[1]!) ?? [];
    list.push(Number(r[2]));
    m.set(r[1]!, list);
  }
  for (const l of m.values()) l.sort((a, b) => a - b);
  return m;
}

/**
 * The `session` line (what every gateway writes at the start): the gateways'
 * record without its end, read leniently (grantKind as written).
 */
export interface SessionHeader extends Omit<BaseSessionRecord, 'grantKind' | 'endedAt' | 'endReason'> {
  grantKind: string;
  tls?: boolean;
  gateway?: string;
  clientKey?: string;
}

/** What a gateway keeps in memory for a session (the postgres SessionRecord and the ssh SshSessionRecord fit). */
export interface LiveSessionRecord extends SessionHeader {
  endedAt: string | null;
  endReason: string | null;
  bytesIn?: number;
  bytesOut?: number;
}

export interface SessionsReader {
  /** Newest first. */
  list(filter?: { user?: string; grantId?: string; limit?: number }): Promise<SessionView[]>;
  /** undefined when there is no such session. */
  /** The session and its statements from index `statementsOffset` (0 = the first), at most `statementsLimit` of them. */
  get(sessionId: string, opts?: { statementsLimit?: number; statementsOffset?: number }): Promise<SessionDetailView | undefined>;
  /** The session's summary without reading its statements. */
  summary(sessionId: string): Promise<SessionView | undefined>;
  /** A stream of one channel's asciicast v2 file, or null when there is none. */
  openRecording(sessionId: string, channel: number): Promise<Readable | null>;
  /** A stream of the session's whole log (the JSON lines, as written), or null when there is none. */
  openLog(sessionId: string): Promise<Readable | null>;
}

interface EndLine {
  endedAt: string;
  reason: string;
  bytesIn: number;
  bytesOut: number;
  statements: number;
}

const HEAD_BYTES = 64 * 1024;
const TAIL_BYTES = 8 * 1024;
const READ_CONCURRENCY = 16;
/** Files whose first and last lines are remembered (a few hundred bytes each). */
const MAX_CACHED_ENDS = 50_000;

export function createSessionsReader(opts: {
  dir: string | undefined;
  live?: () => Iterable<LiveSessionRecord>;
  /** The store's copy of recordings, read before the files. */
  store?: RecordingReadStore;
  now?: () => number;
}): SessionsReader {
  const stored = opts.store ? createStoreSessions(opts.store, opts.now ?? Date.now) : null;
  const liveMap = () => {
    const m = new Map<string, LiveSessionRecord>();
    for (const r of opts.live?.() ?? []) m.set(r.sessionId, r);
    return m;
  };

  async function names(): Promise<Set<string>> {
    if (!opts.dir) return new Set();
    try {
      return new Set(await readdir(opts.dir));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
      throw err;
    }
  }

  /** Header and end line from the file's first and last bytes; null when the file is missing or has no readable header yet. */
  async function readEnds(file: string): Promise<{ header: SessionHeader; end: EndLine | null } | null> {
    let fh;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const { size } = await fh.stat();
      const head = Buffer.alloc(Math.min(HEAD_BYTES, size));
      await fh.read(head, 0, head.length, 0);
      const nl = head.indexOf(10);
      if (nl < 0) return null;
      const header = parseLine(head.subarray(0, nl).toString('utf8'));
      if (!header || header.type !== 'session' || typeof header.sessionId !== 'string') return null;
      const tailLen = Math.min(TAIL_BYTES, size);
      const tail = Buffer.alloc(tailLen);
      await fh.read(tail, 0, tailLen, size - tailLen);
      const lines = tail
        .toString('utf8')
        .split('\n')
        .filter((l) => l.length > 0);
      const last = parseLine(lines[lines.length - 1] ?? '');
      const end = last && last.type === 'end' ? (last as unknown as EndLine) : null;
      return { header: header as unknown as SessionHeader, end };
    } finally {
      await fh.close();
    }
  }

  // What readEnds found, per file, while its size and mtime stay the same: an ended session's
  // file never changes, so a listing reads only the files that did (a stat each, not two reads).
  const ends = new Map<string, { size: number; mtimeMs: number; value: Awaited<ReturnType<typeof readEnds>> }>();
  async function readEndsCached(file: string): Promise<Awaited<ReturnType<typeof readEnds>>> {
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const hit = ends.get(file);
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.value;
    const value = await readEnds(file);
    ends.delete(file);
    ends.set(file, { size: st.size, mtimeMs: st.mtimeMs, value });
    for (const oldest of ends.keys()) {
      if (ends.size <= MAX_CACHED_ENDS) break;
      ends.delete(oldest);
    }
    return value;
  }

  function summarise(
    id: string,
    header: SessionHeader,
    end: EndLine | null,
    live: LiveSessionRecord | undefined,
    casts: number[],
    openElsewhere = false,
  ): SessionView {
    const memEnded = live && live.endedAt !== null ? live : undefined;
    const endedAt = end?.endedAt ?? memEnded?.endedAt ?? null;
    return {
      id,
      gateway: header.gateway ?? (header.clientKey !== undefined ? 'ssh' : 'postgres'),
      user: header.user,
      profile: header.profile,
      target: header.target,
      grantId: header.grantId,
      account: header.account,
      grantKind: header.grantKind,
      client: header.client,
      tls: typeof header.tls === 'boolean' ? header.tls : null,
      startedAt: header.startedAt,
      endedAt,
      endReason: end?.reason ?? memEnded?.endReason ?? null,
      status: endedAt !== null ? 'ended' : live || openElsewhere ? 'live' : 'interrupted',
      bytesIn: end?.bytesIn ?? memEnded?.bytesIn ?? null,
      bytesOut: end?.bytesOut ?? memEnded?.bytesOut ?? null,
      statements: typeof end?.statements === 'number' ? end.statements : null,
      recording: casts.length > 0,
      recordings: casts,
    };
  }

  /** A session's terminal recordings: the store's copies and this broker's files (the one answering may hold either). */
  function bothCasts(id: string, inStore: Map<string, number[]>, inFiles: Map<string, number[]>): number[] {
    return [...new Set([...(inStore.get(id) ?? []), ...(inFiles.get(id) ?? [])])].sort((a, b) => a - b);
  }

  function storedSummary(id: string, st: StoredSession, live: Map<string, LiveSessionRecord>, casts: number[]): SessionView {
    return summarise(id, st.header as unknown as SessionHeader, st.end as unknown as EndLine | null, live.get(id), casts, st.openElsewhere);
  }

  async function summaryOf(
    id: string,
    files: Set<string>,
    casts: Map<string, number[]>,
    live: Map<string, LiveSessionRecord>,
  ): Promise<SessionView | undefined> {
    const mem = live.get(id);
    const read = files.has(`${id}.jsonl`) && opts.dir ? await readEndsCached(join(opts.dir, `${id}.jsonl`)) : null;
    // A session just opened may not have its first line on disk yet: the gateway's record stands in.
    const header = (read?.header.sessionId === id ? read.header : undefined) ?? mem;
    if (!header) return undefined;
    return summarise(id, header, read?.end ?? null, mem, casts.get(id) ?? []);
  }

  async function summary(sessionId: string): Promise<SessionView | undefined> {
    if (!isSessionId(sessionId)) throw invalid(`${JSON.stringify(sessionId.slice(0, 40))} is not a session id (ses_ and 12 characters a-z 0-9)`);
    const st = await stored?.get(sessionId);
    const files = await names();
    if (st) return storedSummary(sessionId, st, liveMap(), bothCasts(sessionId, await stored!.casts([sessionId]), castsOf(files)));
    return summaryOf(sessionId, files, castsOf(files), liveMap());
  }

  return {
    async list(filter = {}) {
      const files = await names();
      const casts = castsOf(files);
      const live = liveMap();
      const inStore = stored
        ? await stored.list({ user: filter.user, grantId: filter.grantId, limit: filter.limit ?? 5000 })
        : new Map<string, StoredSession>();
      const storeCasts = stored ? await stored.casts([...inStore.keys()]) : new Map<string, number[]>();
      const out: SessionView[] = [...inStore].map(([id, st]) => storedSummary(id, st, live, bothCasts(id, storeCasts, casts)));
      const ids = new Set<string>(live.keys());
      for (const f of files) {
        const id = f.endsWith('.jsonl') ? f.slice(0, -'.jsonl'.length) : null;
        if (id && isSessionId(id)) ids.add(id);
      }
      // What the store listed is not read from files again (a file of a session the limit left out is the same record).
      for (const id of inStore.keys()) ids.delete(id);
      const all = [...ids];
      for (let i = 0; i < all.length; i += READ_CONCURRENCY) {
        const batch = await Promise.all(all.slice(i, i + READ_CONCURRENCY).map((id) => summaryOf(id, files, casts, live)));
        for (const s of batch) {
          if (!s) continue;
          if (filter.user !== undefined && s.user !== filter.user) continue;
          if (filter.grantId !== undefined && s.grantId !== filter.grantId) continue;
          out.push(s);
        }
      }
      out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? 1 : -1));
      return filter.limit !== undefined ? out.slice(0, filter.limit) : out;
    },

    summary,

    async get(sessionId, o = {}) {
      const s = await summary(sessionId);
      if (!s) return undefined;
      const limit = o.statementsLimit ?? Number.POSITIVE_INFINITY;
      const offset = o.statementsOffset ?? 0;
      const statements: StatementView[] = [];
      let total = 0;
      let rl: AsyncIterable<string>;
      if (stored && (await stored.get(sessionId))) rl = stored.lines(sessionId);
      else {
        if (!opts.dir) return { session: s, statements: [], statementsTotal: 0, channels: [] };
        try {
          const fh = await open(sessionFiles(opts.dir, sessionId).log, 'r');
          rl = createInterface({ input: fh.createReadStream({ encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { session: s, statements: [], statementsTotal: 0, channels: [] };
          throw err;
        }
      }
      const channels = new Map<number, ChannelView>();
      for await (const line of rl) {
        const entry = parseLine(line);
        if (entry?.type === 'channel' && typeof entry.channel === 'number') {
          channels.set(entry.channel, {
            channel: entry.channel,
            at: String(entry.at),
            kind: String(entry.kind),
            detail: typeof entry.detail === 'string' ? entry.detail : null,
            pty: entry.pty === true,
            recording: s.recordings.includes(entry.channel),
            endedAt: null,
            exit: null,
          });
          continue;
        }
        if (entry?.type === 'channel-end' && typeof entry.channel === 'number') {
          const c = channels.get(entry.channel);
          if (c) Object.assign(c, { endedAt: typeof entry.endedAt === 'string' ? entry.endedAt : null, exit: (entry.exit ?? null) as ChannelView['exit'] });
          continue;
        }
        if (!entry || entry.type !== 'statement') continue;
        total++;
        if (total > offset && statements.length < limit) {
          const { type: _t, sessionId: _s, ...st } = entry;
          statements.push(st as unknown as StatementView);
        }
      }
      return { session: s, statements, statementsTotal: total, channels: [...channels.values()] };
    },

    async openLog(sessionId) {
      sessionFiles('', sessionId); // refuses a bad id before anything is read
      const fromStore = await stored?.openLog(sessionId);
      if (fromStore) return fromStore;
      if (!opts.dir) return null;
      try {
        return (await open(sessionFiles(opts.dir, sessionId).log, 'r')).createReadStream();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },

    async openRecording(sessionId, channel) {
      sessionFiles('', sessionId).cast(channel); // refuses a bad id or channel before anything is read
      const fromStore = await stored?.openCast(sessionId, channel);
      if (fromStore) return fromStore;
      if (!opts.dir) return null;
      try {
        const fh = await open(sessionFiles(opts.dir, sessionId).cast(channel), 'r');
        return fh.createReadStream();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
  };
}

function parseLine(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    // A line still being written (live session) or cut by a crash.
    return null;
  }
}
