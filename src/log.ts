// Structured JSON logs (pino). Secrets never reach a log call by design;
// redaction is the second line of defence for fields that could carry one.

import pino, { type Logger, type DestinationStream } from 'pino';

export const redactPaths = [
  'password', '*.password', 'secret', '*.secret', 'token', '*.token', 'authorization', '*.authorization',
  'req.headers.authorization', 'req.headers.cookie', 'adminSecret', '*.adminSecret',
];

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
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? logDestination(2),
  );
}
