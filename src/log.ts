// Structured JSON logs (pino). Secrets never reach a log call by design;
// redaction is the second line of defence for fields that could carry one.

import pino, { type Logger, type DestinationStream } from 'pino';

/** Field names censored at the top of a log line and one level down. */
const sensitiveFields = ['password', 'secret', 'token', 'authorization', 'adminSecret'] as const;

/** pino's redaction: the top-level fields and two request headers. */
export const redactPaths = [...sensitiveFields, 'req.headers.authorization', 'req.headers.cookie'];

/**
 * One level down (`{ target: { adminSecret } }`), the same fields are
 * censored here rather than with pino's `*.field` paths: a wildcard path made
 * every line cost three times as much to write, nested objects or not. Copies
 * what it censors; the caller's object is left as it was. Arrays are not
 * looked into, as pino's wildcards did not.
 */
export function censorNested(line: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const key in line) {
    const value = line[key];
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    let copy: Record<string, unknown> | null = null;
    for (const field of sensitiveFields) {
      if (Object.hasOwn(value, field)) (copy ??= { ...(value as Record<string, unknown>) })[field] = '***';
    }
    if (copy) (out ??= { ...line })[key] = copy;
  }
  return out ?? line;
}

/**
 * JSON lines to a file descriptor or path, asynchronously and in chunks:
 * a line waits until 4 KiB have gathered or 100 ms have passed, whichever
 * comes first (and is flushed when the process exits). One write per line
 * cost the broker a thread-pool round trip per line, several per grant.
 */
export function logDestination(dest: number | string): DestinationStream {
  return pino.destination({ dest, sync: false, minLength: 4096, periodicFlush: 100, mkdir: typeof dest === 'string' });
}

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.STINT_LOG_LEVEL ?? 'info',
      base: { service: 'stint' },
      redact: { paths: redactPaths, censor: '***' },
      formatters: { log: censorNested },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? logDestination(2),
  );
}
