// The API's JSON body parser, stricter than Fastify's: the body must be valid
// UTF-8 (Fastify's decoder turned a bad byte into U+FFFD, so what was stored
// was not what was sent), and no object may name a key twice at any depth
// (JSON.parse keeps the last one, so `{"user":"alice","user":"carol"}` read
// as carol while a proxy or log reading the first saw alice). JSON.parse
// does the parsing; a small scan over the already-valid text finds repeated
// keys, comparing them decoded (`"us\u0065r"` is `"user"`). A key
// `__proto__`, or `constructor` holding `prototype`, is refused as Fastify's
// parser refused it.

import { StintError, invalid } from '../core/errors.js';

/** Where a problem is: `user`, `a.b[2].c`; empty for the body itself. */
type Path = Array<string | number>;

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

interface ObjectFrame {
  kind: 'object';
  keys: Set<string>;
  expectKey: boolean;
  key: string | null;
}
interface ArrayFrame {
  kind: 'array';
  index: number;
}
type Frame = ObjectFrame | ArrayFrame;

export type ScanResult = { ok: true } | { ok: false; path: Path; problem: 'duplicate' | 'prototype' };

/** The path of the value being read at the end of `frames`. */
function pathOf(frames: Frame[]): Path {
  const path: Path = [];
  for (const f of frames) {
    if (f.kind === 'array') path.push(f.index);
    else if (f.key !== null && !f.expectKey) path.push(f.key);
  }
  return path;
}

/** End index (of the closing quote) of the JSON string starting at `start`; the text's length when it does not end. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x5c)
      i += 2; // backslash: skip the escaped character
    else if (c === 0x22) return i;
    else i++;
  }
  return text.length;
}

/**
 * Walks JSON text (valid, or a prefix of valid text) tracking where each
 * value sits. With `check`, stops at the first repeated or prototype key;
 * returns the frames open at the end (for locating a problem in a prefix).
 */
function walk(text: string, check: boolean): { frames: Frame[]; result: ScanResult; inString: boolean } {
  const frames: Frame[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const top = frames[frames.length - 1];
    if (c === '"') {
      const end = stringEnd(text, i);
      if (end >= text.length) return { frames, result: { ok: true }, inString: true };
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        top.key = key;
        top.expectKey = false;
        if (check) {
          if (top.keys.has(key)) return { frames, result: { ok: false, path: pathOf(frames), problem: 'duplicate' }, inString: false };
          if (key === '__proto__') return { frames, result: { ok: false, path: pathOf(frames), problem: 'prototype' }, inString: false };
          if (key === 'prototype' && frames.length >= 2) {
            const parent = frames[frames.length - 2]!;
            if (parent.kind === 'object' && parent.key === 'constructor')
              return { frames, result: { ok: false, path: pathOf(frames), problem: 'prototype' }, inString: false };
          }
        }
        top.keys.add(key);
      }
      i = end + 1;
      continue;
    }
    if (c === '{') frames.push({ kind: 'object', keys: new Set(), expectKey: true, key: null });
    else if (c === '[') frames.push({ kind: 'array', index: 0 });
    else if (c === '}' || c === ']') frames.pop();
    else if (c === ',') {
      if (top?.kind === 'object') top.expectKey = true;
      else if (top?.kind === 'array') top.index++;
    }
    i++;
  }
  return { frames, result: { ok: true }, inString: false };
}

/** Finds the first key repeated within one object (or a prototype-polluting key) in valid JSON text. */
export function scanKeys(text: string): ScanResult {
  return walk(text, true).result;
}

/** The path of the value a prefix of a JSON document ends inside (used to name the field holding a bad byte). */
export function pathAtEnd(prefix: string): Path {
  const { frames, inString } = walk(prefix, false);
  const top = frames[frames.length - 1];
  // Inside a key that has not ended: the field being named is that key.
  if (inString && top?.kind === 'object' && top.expectKey) {
    const raw = prefix.slice(prefix.lastIndexOf('"') + 1);
    return [...pathOf(frames), raw];
  }
  return pathOf(frames);
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Length of the longest prefix of `buf` that is valid UTF-8 (an unfinished character at its end counts as valid). */
function validUtf8Prefix(buf: Uint8Array): number {
  let lo = 0;
  let hi = buf.length;
  const ok = (n: number) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Parses a request body: valid UTF-8, valid JSON, every key once. Throws StintError('invalid') naming the field. */
export function parseJsonBody(buf: Buffer): unknown {
  if (buf.length === 0) throw invalid('request body is empty but the content type says JSON');
  let text: string;
  try {
    text = decoder.decode(buf);
  } catch {
    const at = validUtf8Prefix(buf);
    const prefix = new TextDecoder('utf-8').decode(buf.subarray(0, at));
    const where = formatPath(pathAtEnd(prefix));
    throw invalid(`${where ? `body ${where}` : 'request body'}: not valid UTF-8 (byte ${at})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StintError('invalid', 'request body is not valid JSON');
  }
  const scan = scanKeys(text);
  if (!scan.ok) {
    const where = formatPath(scan.path);
    throw invalid(
      scan.problem === 'duplicate'
        ? `body ${where}: the field is given more than once`
        : `body ${where}: a field named __proto__ or constructor.prototype is not allowed`,
    );
  }
  return value;
}
