// Flag parsing shared by every command: node:util parseArgs in strict mode,
// the common options (--json, --server, --token, --token-file, --help), and
// error messages that say which flag was wrong and how to get help.

import { parseArgs } from 'node:util';
import { parseDuration } from '../core/duration.js';
import { usageError } from './cli-error.js';

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: false };
export type OptionSpecs = Record<string, OptionSpec>;

export const commonOptions = {
  json: { type: 'boolean' },
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpecs;

export const commonHelp = `Common options:
  --json              print the API's JSON (one document on stdout; errors too, as {"error":{…}})
  --server URL        Stint server (default: $STINT_SERVER, else http://127.0.0.1:8080)
  --token-file PATH   read the API token from a file (or $STINT_TOKEN_FILE)
  --token TOKEN       API token (prefer $STINT_TOKEN or --token-file: argv is visible to other users)
  -h, --help          show this help`;

export interface ParsedArgs {
  /** Positional arguments before `--`. */
  positionals: string[];
  /** Arguments after `--`, passed through untouched (connect → psql). */
  passthrough: string[];
  string(name: string): string | undefined;
  boolean(name: string): boolean;
  has(name: string): boolean;
}

export interface ParseSpec {
  command: string;
  options?: OptionSpecs;
  /** Display names of the positional arguments (GRANT, PROFILE…), in order; those past `minPositionals` are optional. */
  positionals?: string[];
  minPositionals?: number;
  allowPassthrough?: boolean;
}

/** True when the user asked for JSON, even if the rest of the flags do not parse (so the error is JSON too). */
export function wantsJson(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

export function parseCommandArgs(args: string[], spec: ParseSpec): ParsedArgs {
  const dashdash = args.indexOf('--');
  const own = dashdash === -1 ? args : args.slice(0, dashdash);
  const passthrough = dashdash === -1 ? [] : args.slice(dashdash + 1);
  if (passthrough.length > 0 && !spec.allowPassthrough) {
    throw usageError(`stint ${spec.command} takes no arguments after "--" (see stint help ${spec.command})`);
  }
  const options: OptionSpecs = { ...commonOptions, ...spec.options };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: own, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    throw usageError(`${describeParseError(err, options)} (see stint help ${spec.command})`);
  }
  const values = parsed.values;
  const names = spec.positionals ?? [];
  const min = spec.minPositionals ?? names.length;
  if (values.help !== true) {
    if (parsed.positionals.length < min) {
      const missing = names.slice(parsed.positionals.length, min);
      throw usageError(`stint ${spec.command} needs ${missing.join(' and ')} (see stint help ${spec.command})`);
    }
    if (parsed.positionals.length > names.length) {
      const extra = parsed.positionals.slice(names.length);
      throw usageError(
        `unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((e) => JSON.stringify(e)).join(' ')} for stint ${spec.command} (see stint help ${spec.command})`,
      );
    }
  }
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === 'string' && value.length === 0 && name !== 'comment' && name !== 'reason' && name !== 'description') {
      throw usageError(`--${name} needs a non-empty value`);
    }
  }
  return {
    positionals: parsed.positionals,
    passthrough,
    string: (name) => {
      const v = values[name];
      return typeof v === 'string' ? v : undefined;
    },
    boolean: (name) => values[name] === true,
    has: (name) => values[name] !== undefined,
  };
}

function describeParseError(err: unknown, options: OptionSpecs): string {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  const quoted = /'(-{1,2}[^' ]+)/.exec(msg)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const known = Object.keys(options).map((o) => `--${o}`);
      const hint = quoted ? closest(quoted.replace(/=.*$/, ''), known) : undefined;
      if (!quoted) return msg;
      return `unknown option ${quoted}${hint ? `; did you mean ${hint}?` : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      if (quoted && /argument missing/.test(msg)) return `${quoted.split(' ')[0]} needs a value`;
      if (quoted && /does not take an argument/.test(msg)) return `${quoted.replace(/=.*$/, '')} is a switch and takes no value`;
      if (quoted && /ambiguous/.test(msg)) return `${quoted} needs a value; to give one that starts with "-", write ${quoted}=-…`;
      return msg;
    }
    default:
      return msg;
  }
}

/** Parses a duration flag before anything is sent; the message names the flag. */
export function durationFlag(flag: string, text: string): { text: string; ms: number } {
  const r = parseDuration(text);
  if (!r.ok) throw usageError(`--${flag}: ${r.error}`);
  return { text: text.trim(), ms: r.ms };
}

/** Parses a positive integer flag such as --limit. */
export function intFlag(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw usageError(`--${flag} must be a whole number, got ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < min || n > max) throw usageError(`--${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** Checks that an id has the expected prefix, with a hint when it is another kind of id. */
export function idArg(what: 'request' | 'grant' | 'token', value: string): string {
  const prefix = { request: 'req_', grant: 'gr_', token: 'tok_' }[what];
  if (value.startsWith(prefix) && /^[A-Za-z0-9_]{1,64}$/.test(value)) return value;
  const kind = value.startsWith('req_') ? 'request' : value.startsWith('gr_') ? 'grant' : value.startsWith('tok_') ? 'token' : null;
  const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  const problem = kind && kind !== what ? `${shown} is a ${kind} id, not a ${what} id` : `${shown} is not a ${what} id`;
  throw usageError(`${problem} (${what} ids look like ${prefix}…)`);
}

/** Levenshtein-closest candidate within distance 2 (or a unique prefix match). */
export function closest(input: string, candidates: string[]): string | undefined {
  const prefixed = candidates.filter((c) => c.startsWith(input));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = distance(input, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
