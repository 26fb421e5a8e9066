// Human output (aligned tables, relative times, coloured statuses on a
// terminal) and --json output (the API's objects verbatim, one document on
// stdout; errors as {"error":{code,message,requestId}} on stdout too).
//
// Nothing the server sends reaches the terminal as a control character: in
// human mode the client hands commands every string already escaped
// (escapingClient in client.ts), table cells, truncated text and error
// messages are escaped here again, all with core/text.ts's escapeText; --json
// output writes the characters JSON.stringify leaves raw (DEL, C1 controls,
// invisible and bidirectional formatting characters, line separators) as
// \uXXXX escapes, the same JSON value.

import type { CliIO } from './command.js';
import { CliError } from './cli-error.js';
import { escapeText } from '../core/text.js';
import type { GrantStatus, RequestStatus } from '../core/types.js';

export interface Output {
  readonly json: boolean;
  readonly color: boolean;
  /** Human-mode line on stdout (ignored in JSON mode). */
  line(text?: string): void;
  /** Human-mode note on stderr (ignored in JSON mode). */
  note(text: string): void;
  /** The one JSON document of a --json run. */
  document(value: unknown): void;
  /** Reports an error in the chosen mode and returns its exit code. */
  error(err: unknown): number;
}

export function createOutput(io: CliIO, json: boolean): Output {
  const color = io.isTTY && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  return {
    json,
    color,
    line: (text = '') => {
      if (!json) io.stdout(`${text}\n`);
    },
    note: (text) => {
      if (!json) io.stderr(`${text}\n`);
    },
    document: (value) => io.stdout(`${jsonText(value)}\n`),
    error: (err) => reportError(io, json, err),
  };
}

/** JSON text of `value` (indented) with every character a terminal could act on written as a \u escape. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => {
    const cp = c.codePointAt(0)!;
    const units = cp > 0xffff ? [0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)] : [cp];
    return units.map((u) => `\\u${u.toString(16).padStart(4, '0')}`).join('');
  });
}

export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CliError('internal', `unexpected error in the CLI: ${message}`);
}

export function reportError(io: CliIO, json: boolean, err: unknown): number {
  const e = toCliError(err);
  if (json) {
    io.stdout(`${jsonText({ error: { code: e.code, message: e.message, requestId: e.requestId } })}\n`);
  } else {
    io.stderr(`stint: ${escapeText(e.message)}${e.requestId && e.code === 'internal' ? ` (requestId ${escapeText(e.requestId)})` : ''}\n`);
  }
  return e.exitCode;
}

// ---- tables ---------------------------------------------------------------

export interface Column<T> {
  header: string;
  value(row: T): string;
  /** Colour applied after padding, so alignment counts visible characters only. */
  paint?(row: T, text: string): string;
  align?: 'left' | 'right';
}

/** Aligned columns separated by two spaces; the last column is not padded. */
export function table<T>(rows: T[], columns: Column<T>[], color = false): string {
  const cells = rows.map((r) => columns.map((c) => oneLine(c.value(r))));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((row) => width(row[i]!))));
  const render = (values: string[], row: T | null) =>
    values
      .map((v, i) => {
        const col = columns[i]!;
        const last = i === values.length - 1;
        const pad = ' '.repeat(Math.max(0, widths[i]! - width(v)));
        const text = col.align === 'right' ? pad + v : last ? v : v + pad;
        return color && row !== null && col.paint ? paintPadded(text, v, (s) => col.paint!(row, s)) : text;
      })
      .join('  ')
      .trimEnd();
  const head = render(
    columns.map((c) => c.header),
    null,
  );
  return [color ? bold(head) : head, ...cells.map((c, i) => render(c, rows[i]!))].join('\n');
}

/** Two-column "key  value" block, keys aligned. */
export function fields(entries: Array<[string, string | null | undefined]>): string {
  const present = entries.filter((e): e is [string, string] => e[1] !== null && e[1] !== undefined);
  const w = Math.max(0, ...present.map(([k]) => width(k)));
  return present.map(([k, v]) => `${k}${' '.repeat(w - width(k))}  ${v}`).join('\n');
}

function paintPadded(text: string, value: string, paint: (s: string) => string): string {
  const at = text.indexOf(value);
  if (at === -1 || value === '') return text;
  return text.slice(0, at) + paint(value) + text.slice(at + value.length);
}

const width = (s: string) => [...s].length;
/** One line for a table cell: line breaks and tabs become a space, any other control or bidi character an escape. */
const oneLine = (s: string) => escapeText(s.replace(/[\r\n\t]+/g, ' '));

export function truncate(s: string | null | undefined, max: number): string {
  if (!s) return '';
  const flat = oneLine(s);
  const chars = [...flat];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : flat;
}

// ---- colours and statuses -------------------------------------------------

const ansi = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
export const bold = ansi('1');
const green = ansi('32');
const yellow = ansi('33');
const red = ansi('31');
const dim = ansi('2');

// Every grant and request status has its colour: the compiler says when a new one has none.
const statusColour: Record<string, (s: string) => string> = {
  active: green,
  approved: green,
  pending: yellow,
  provisioning: yellow,
  revoking: yellow,
  'revoke-failing': red,
  denied: red,
  revoked: dim,
  cancelled: dim,
  'expired-unapproved': dim,
} satisfies Record<GrantStatus | RequestStatus, (s: string) => string>;

export function paintStatus(status: string, text = status): string {
  return (statusColour[status] ?? ((s: string) => s))(text);
}

export function status(out: Pick<Output, 'color'>, s: string): string {
  return out.color ? paintStatus(s) : s;
}

// ---- times ----------------------------------------------------------------

/** Compact span, two units at most, floored: 29m, 1h5m, 2d3h, 45s. */
export function formatSpan(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}

/** "in 29m", "3m ago", "now". */
export function relativeTime(at: number | string, now: number): string {
  const t = typeof at === 'string' ? Date.parse(at) : at;
  if (Number.isNaN(t)) return String(at);
  const diff = t - now;
  if (Math.abs(diff) < 1000) return 'now';
  return diff > 0 ? `in ${formatSpan(diff)}` : `${formatSpan(diff)} ago`;
}

/** ISO time shortened for tables: 2024-05-01 12:03:04Z. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
