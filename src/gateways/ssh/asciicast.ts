// Terminal recordings in asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
// a JSON header line, then one JSON array per event — `[seconds, "o", text]`
// for output, `[seconds, "r", "COLSxROWS"]` for a resize. Playable with
// `asciinema play FILE`. Only what the terminal showed is recorded: keystrokes
// (`"i"` events) are not, so a password typed at a prompt that does not echo
// never reaches the file.

import { createWriteStream, type WriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { StreamCopy } from '../shared/recording-copy.js';

export interface AsciicastHeader {
  width: number;
  height: number;
  /** Start, Unix seconds. */
  timestamp: number;
  title?: string;
  env?: { TERM?: string; SHELL?: string };
}

export interface AsciicastWriter {
  readonly file: string;
  output(data: Buffer | string): void;
  resize(cols: number, rows: number): void;
  close(): Promise<void>;
}

/** The header line and event lines, as pure functions (unit-tested). */
export function headerLine(h: AsciicastHeader): string {
  const out: Record<string, unknown> = { version: 2, width: h.width, height: h.height, timestamp: h.timestamp };
  if (h.title !== undefined) out.title = h.title;
  if (h.env) out.env = h.env;
  return `${JSON.stringify(out)}\n`;
}

export function eventLine(seconds: number, code: 'o' | 'r' | 'i', data: string): string {
  return `${JSON.stringify([Math.round(seconds * 1e6) / 1e6, code, data])}\n`;
}

/**
 * Opens `file` (created, never overwritten, 0600) and writes the header.
 * `now` (ms) gives event times relative to `startMs`.
 */
export function openAsciicast(
  file: string,
  header: Omit<AsciicastHeader, 'timestamp'>,
  opts: { now?: () => number; startMs?: number; copy?: StreamCopy | null } = {},
): AsciicastWriter {
  const now = opts.now ?? Date.now;
  const start = opts.startMs ?? now();
  const fileOut: WriteStream = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  fileOut.on('error', () => {});
  // Every line also goes to the store's copy (batched there), when there is one.
  const copy = opts.copy ? batched(opts.copy) : null;
  const out = {
    write(text: string) {
      fileOut.write(text);
      copy?.write(text);
    },
    end(done: () => void) {
      fileOut.end(() => void (copy ? copy.close().then(done, done) : done()));
    },
  };
  out.write(headerLine({ ...header, timestamp: Math.floor(start / 1000) }));
  // Output arrives in chunks that may split a UTF-8 character: decode across chunks.
  const decoder = new StringDecoder('utf8');
  let closed = false;
  const t = () => Math.max(0, now() - start) / 1000;
  return {
    file,
    output(data) {
      if (closed) return;
      const text = typeof data === 'string' ? data : decoder.write(data);
      if (text) out.write(eventLine(t(), 'o', text));
    },
    resize(cols, rows) {
      if (!closed) out.write(eventLine(t(), 'r', `${cols}x${rows}`));
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      const rest = decoder.end();
      if (rest) out.write(eventLine(t(), 'o', rest));
      return new Promise<void>((resolve) => out.end(resolve));
    },
  };
}

/** Terminal output comes a few bytes at a time: one store write per 50 ms or 64 KiB, not per event. */
function batched(copy: StreamCopy): { write(text: string): void; close(): Promise<string> } {
  let pending = '';
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    copy.write(pending);
    pending = '';
  };
  return {
    write(text) {
      pending += text;
      if (pending.length >= 64 * 1024) flush();
      else if (!timer) {
        timer = setTimeout(flush, 50);
        timer.unref();
      }
    },
    close() {
      flush();
      return copy.close();
    },
  };
}
