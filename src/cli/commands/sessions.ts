import type { SessionDetailView, SessionView } from '../../api/views/index.js';
import { escapeText } from '../../core/text.js';
import { closest, intFlag } from '../args.js';
import { CliError, usageError } from '../cli-error.js';
import { apiError, resolveConfig } from '../client.js';
import { fields, formatSpan, relativeTime, shortTime, table, type Column, type Output } from '../output.js';
import { defineCommand, seg, type CommandContext } from '../run.js';
import { verifySessionCommand } from './sessions-verify.js';

const subcommands = ['show', 'play', 'verify'];

export const sessionsCommand = defineCommand({
  name: 'sessions',
  summary: 'Gateway sessions: list them, show a statement log, replay a terminal',
  usage: `Usage: stint sessions [--all] [--grant GRANT] [--limit N]
       stint sessions show SESSION [--limit N] [--offset K]
       stint sessions play SESSION [--channel N] [--speed N] [--idle-limit S]
       stint sessions verify SESSION

Sessions are connections made through Stint's gateways (psql to the
PostgreSQL gateway, ssh to the SSH gateway), each tied to the grant and the
account it used.

(no subcommand)  your sessions, newest first: grant, target, account, start,
                 end, bytes in/out, status (live, ended, interrupted)
show SESSION     the session and every statement it ran (bind values are
                 never recorded), or (ssh) the shells and commands it opened
play SESSION     replays a terminal recording of the session (asciicast v2)
                 in this terminal with its timing; --json does not apply
verify SESSION   hashes the session's log and terminal recordings again and
                 compares them with the SHA-256 its session.ended audit event
                 holds (exit 8 when they differ or are missing)

Options:
  --all            everyone's sessions (admins)
  --grant GRANT    only sessions of this grant
  --limit N        list: at most N sessions (1-5000, default 500);
                   show: at most N statements (1-5000, default 1000)
  --offset K       show: skip the first K statements (default 0)
  --channel N      play: which terminal of the session (default: the first)
  --speed N        play: N times faster (0.1-100, default 1)
  --idle-limit S   play: no pause longer than S seconds (default: the
                   recording's idle_time_limit, else 2)

Examples:
  stint sessions
  stint sessions --all --json | jq -r '.sessions[] | select(.status=="live") | .id'
  stint sessions show ses_0123456789ab
  stint sessions play ses_0123456789ab --speed 2 --idle-limit 1`,
  parse: {
    positionals: ['show|play|verify', 'SESSION'],
    minPositionals: 0,
    options: {
      all: { type: 'boolean' },
      grant: { type: 'string' },
      limit: { type: 'string' },
      offset: { type: 'string' },
      channel: { type: 'string' },
      speed: { type: 'string' },
      'idle-limit': { type: 'string' },
    },
  },
  async run(ctx) {
    const [sub, id] = ctx.args.positionals as [string | undefined, string | undefined];
    const mode = sub ?? 'list';
    if (sub !== undefined && !subcommands.includes(sub)) {
      if (sub.startsWith('ses_')) throw usageError(`to see session ${sub}, write: stint sessions show ${sub}`);
      const hint = closest(sub, subcommands);
      throw usageError(
        `unknown sessions subcommand ${JSON.stringify(sub)}${hint ? `; did you mean ${hint}?` : ''} (one of: ${subcommands.join(', ')}, or none to list)`,
      );
    }
    const onlyWith = (flag: string, allowed: string[]) => {
      if (ctx.args.has(flag) && !allowed.includes(mode)) throw usageError(`--${flag} does not apply to stint sessions${sub ? ` ${sub}` : ''}`);
    };
    onlyWith('all', ['list']);
    onlyWith('grant', ['list']);
    onlyWith('limit', ['list', 'show']);
    onlyWith('offset', ['show']);
    onlyWith('speed', ['play']);
    onlyWith('channel', ['play']);
    onlyWith('idle-limit', ['play']);
    onlyWith('json', ['list', 'show', 'verify']);
    if (mode === 'list') return list(ctx);
    if (id === undefined) throw usageError(`stint sessions ${mode} needs SESSION (a ses_… id; see stint sessions)`);
    const sessionId = sessionIdArg(id);
    if (mode === 'verify') return verifySessionCommand(ctx, sessionId);
    return mode === 'show' ? show(ctx, sessionId) : play(ctx, sessionId);
  },
});

export function sessionIdArg(value: string): string {
  if (/^ses_[a-z0-9]{12}$/.test(value)) return value;
  const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  throw usageError(`${shown} is not a session id (session ids look like ses_ and 12 characters a-z 0-9; see stint sessions)`);
}

async function list({ args, out, client, now }: CommandContext): Promise<number> {
  const grant = args.string('grant');
  if (grant !== undefined && !/^gr_[a-z0-9]{12}$/.test(grant)) throw usageError(`--grant: ${JSON.stringify(grant)} is not a grant id (gr_…)`);
  const limitText = args.string('limit');
  const res = await client().get<{ sessions: SessionView[] }>('/v1/sessions', {
    all: args.boolean('all') ? 'true' : undefined,
    grant,
    limit: limitText === undefined ? undefined : intFlag('limit', limitText, 1, 5000),
  });
  if (out.json) {
    out.document(res);
    return 0;
  }
  if (res.sessions.length === 0) {
    out.line('No sessions.');
    return 0;
  }
  out.line(sessionsTable(out, res.sessions, now(), args.boolean('all')));
  return 0;
}

export function sessionsTable(out: Pick<Output, 'color'>, sessions: SessionView[], now: number, withUser: boolean): string {
  const cols: Column<SessionView>[] = [
    { header: 'ID', value: (s) => s.id },
    ...(withUser ? [{ header: 'USER', value: (s: SessionView) => s.user }] : []),
    { header: 'GRANT', value: (s) => s.grantId },
    { header: 'TARGET', value: (s) => s.target },
    { header: 'ACCOUNT', value: (s) => s.account },
    { header: 'STARTED', value: (s) => relativeTime(s.startedAt, now) },
    { header: 'ENDED', value: (s) => (s.endedAt ? relativeTime(s.endedAt, now) : s.status) },
    { header: 'BYTES IN/OUT', value: (s) => (s.bytesIn === null || s.bytesOut === null ? '' : `${bytes(s.bytesIn)}/${bytes(s.bytesOut)}`), align: 'right' },
    { header: 'STATUS', value: (s) => s.status },
  ];
  return table(sessions, cols, out.color);
}

async function show({ args, out, client }: CommandContext, id: string): Promise<number> {
  const limitText = args.string('limit');
  const offsetText = args.string('offset');
  const offset = offsetText === undefined ? 0 : intFlag('offset', offsetText, 0, Number.MAX_SAFE_INTEGER);
  const res = await client().get<SessionDetailView>(`/v1/sessions/${seg(id)}`, {
    limit: limitText === undefined ? undefined : intFlag('limit', limitText, 1, 5000),
    offset: offsetText === undefined ? undefined : offset,
  });
  if (out.json) {
    out.document(res);
    return 0;
  }
  const s = res.session;
  const duration = s.endedAt ? ` (${spanText(Date.parse(s.endedAt) - Date.parse(s.startedAt))})` : '';
  out.line(
    fields([
      ['session', s.id],
      ['user', s.user],
      ['gateway', s.gateway],
      ['grant', `${s.grantId} (${s.grantKind})`],
      ['profile', s.profile],
      ['target', s.target],
      ['account', s.account],
      ['client', `${safe(s.client)}${s.tls === true ? ' (TLS)' : s.tls === false ? ' (no TLS)' : ''}`],
      ['started', shortTime(s.startedAt)],
      ['ended', s.endedAt ? `${shortTime(s.endedAt)}${duration}${s.endReason ? `, ${s.endReason}` : ''}` : s.status],
      ['bytes', s.bytesIn === null || s.bytesOut === null ? null : `${s.bytesIn} in, ${s.bytesOut} out`],
      [
        'recording',
        s.recordings.length ? s.recordings.map((c) => `stint sessions play ${s.id}${s.recordings.length > 1 ? ` --channel ${c}` : ''}`).join('; ') : null,
      ],
    ]),
  );
  out.line();
  for (const c of res.channels ?? []) {
    const exit = c.exit === null ? '' : 'code' in c.exit ? ` exit ${c.exit.code}` : ` signal ${c.exit.signal}`;
    out.line(
      `${shortTime(c.at)}  channel ${c.channel} ${c.kind}${c.pty ? ' (terminal)' : ''}${c.detail !== null ? `  ${safe(c.detail)}` : ''}${c.endedAt ? `  ended ${shortTime(c.endedAt)}${exit}` : ''}${c.recording ? '  [recorded]' : ''}`,
    );
  }
  if (res.channels?.length) return 0;
  if (res.statementsTotal === 0) {
    out.line('No statements recorded.');
    return 0;
  }
  for (const st of res.statements) {
    const rows = st.rows === null ? '' : ` ${st.rows} row${st.rows === 1 ? '' : 's'}`;
    const params = st.params !== undefined ? ` ${st.params} param${st.params === 1 ? '' : 's'}` : '';
    out.line(`${shortTime(st.at)}  ${st.ms}ms${rows}${params}  ${safe(st.sql)}`);
    if (st.error) out.line(`    error: ${safe(st.error)}`);
  }
  const shownTo = offset + res.statements.length;
  if (offset > 0 || shownTo < res.statementsTotal) {
    const next = shownTo < res.statementsTotal ? `; the next: --offset ${shownTo}` : '';
    out.note(`stint: statements ${res.statements.length ? `${offset + 1}-${shownTo}` : 'none'} of ${res.statementsTotal}${next}`);
  }
  return 0;
}

async function play(ctx: CommandContext, id: string): Promise<number> {
  const { args, io, out, client } = ctx;
  const speedText = args.string('speed');
  const speed = speedText === undefined ? 1 : numberFlag('speed', speedText, 0.1, 100);
  const idleText = args.string('idle-limit');
  const idleLimit = idleText === undefined ? undefined : numberFlag('idle-limit', idleText, 0, 3600);
  const channelText = args.string('channel');
  const channel = channelText === undefined ? undefined : intFlag('channel', channelText, 0, 999_999_999);
  const meta = await client().get<{ session: SessionView }>(`/v1/sessions/${seg(id)}`, { limit: 1 });
  if (!meta.session.recording) {
    throw new CliError(
      'not_found',
      `session ${id} has no terminal recording${meta.session.gateway === 'postgres' ? `; its statement log: stint sessions show ${id}` : ''}`,
    );
  }
  if (channel !== undefined && !meta.session.recordings.includes(channel)) {
    throw new CliError('not_found', `session ${id} has no recording of channel ${channel}; it has: ${meta.session.recordings.join(', ')}`);
  }
  const text = await fetchRecording(ctx, id, channel);
  const s = meta.session;
  out.note(`stint: replaying ${s.id} (${s.user} as ${s.account} on ${s.target}, ${shortTime(s.startedAt)}); Ctrl-C stops`);
  await replayCast(text, { speed, idleLimitS: idleLimit, write: (d) => io.stdout(d) });
  return 0;
}

/** The recording is asciicast text, not JSON, so it is fetched here rather than through the JSON client. */
async function fetchRecording({ args, io }: CommandContext, id: string, channel: number | undefined): Promise<string> {
  const config = resolveConfig(args, io.env);
  const path = `/v1/sessions/${seg(id)}/recording${channel !== undefined ? `?channel=${channel}` : ''}`;
  const scrub = (t: string) => (config.token && config.token.length >= 4 ? t.split(config.token).join('***') : t);
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${config.server}${path}`, {
      headers: { accept: 'application/x-asciicast, application/json', authorization: `Bearer ${config.token ?? ''}` },
      signal: AbortSignal.timeout(120_000),
    });
    text = await res.text();
  } catch (err) {
    throw new CliError('unavailable', scrub(`cannot fetch the recording from the Stint server at ${config.server}: ${(err as Error).message}`));
  }
  if (!res.ok) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    throw apiError(res.status, body, config.server, `GET ${path}`);
  }
  return text;
}

function numberFlag(flag: string, text: string, min: number, max: number): number {
  const n = Number(text.trim());
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !Number.isFinite(n)) throw usageError(`--${flag} must be a number, got ${JSON.stringify(text)}`);
  if (n < min || n > max || (flag === 'speed' && n === 0)) throw usageError(`--${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

// ---- asciicast v2 ----------------------------------------------------------

export interface CastHeader {
  version: 2;
  width?: number;
  height?: number;
  timestamp?: number;
  idle_time_limit?: number;
  [k: string]: unknown;
}

export interface CastEvent {
  /** Seconds since the start of the recording. */
  time: number;
  /** o output, i input, r resize, m marker. */
  code: string;
  data: string;
}

/** Parses asciicast v2: a JSON header line, then one [time, code, data] array per line. */
export function parseCast(text: string): { header: CastHeader; events: CastEvent[] } {
  const lines = text.split('\n');
  let header: CastHeader | undefined;
  const events: CastEvent[] = [];
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      // The last line of a recording still being written may be cut.
      if (i >= lines.length - 2) break;
      throw new CliError('internal', `the recording is not asciicast v2: line ${i + 1} is not JSON`);
    }
    if (header === undefined) {
      const h = v as Partial<CastHeader>;
      if (!h || typeof h !== 'object' || Array.isArray(h) || h.version !== 2)
        throw new CliError('internal', 'the recording is not asciicast v2 (its header has no "version": 2)');
      header = h as CastHeader;
      continue;
    }
    if (!Array.isArray(v) || typeof v[0] !== 'number' || typeof v[1] !== 'string' || typeof v[2] !== 'string') {
      throw new CliError('internal', `the recording is not asciicast v2: line ${i + 1} is not [time, code, data]`);
    }
    events.push({ time: v[0], code: v[1], data: v[2] });
  }
  if (!header) throw new CliError('internal', 'the recording is empty');
  return { header, events };
}

export interface ReplayOptions {
  /** Times faster than recorded (default 1). */
  speed?: number;
  /** Longest pause in seconds; default the header's idle_time_limit, else 2. */
  idleLimitS?: number;
  write(data: string): void;
  sleep?(ms: number): Promise<void>;
}

/** Writes the output events with their timing (pauses capped, divided by speed); returns the time it slept. */
export async function replayCast(text: string, opts: ReplayOptions): Promise<{ events: number; sleptMs: number }> {
  const { header, events } = parseCast(text);
  const speed = opts.speed ?? 1;
  const idleLimit = opts.idleLimitS ?? (typeof header.idle_time_limit === 'number' ? header.idle_time_limit : 2);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let prev = 0;
  let owed = 0;
  let slept = 0;
  let written = 0;
  for (const e of events) {
    const gap = Math.max(0, e.time - prev);
    prev = Math.max(prev, e.time);
    owed += (Math.min(gap, idleLimit) * 1000) / speed;
    if (e.code !== 'o') continue;
    // Tiny gaps add up and are slept together, so fast output is not slowed by timer granularity.
    if (owed >= 10) {
      await sleep(owed);
      slept += owed;
      owed = 0;
    }
    opts.write(e.data);
    written++;
  }
  return { events: written, sleptMs: slept };
}

// ---- helpers ---------------------------------------------------------------

/** Control and bidi characters (escape sequences in recorded SQL) shown as escapes (core/text.ts), so a log cannot drive the terminal. */
function safe(s: string): string {
  return escapeText(s.replace(/\r\n|\n|\r|\t/g, ' '));
}

function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}K`;
  return `${(n / 1024 / 1024).toFixed(1)}M`;
}

function spanText(ms: number): string {
  return ms < 1000 ? `${ms}ms` : formatSpan(ms);
}
