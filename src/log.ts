// Structured JSON logs (pino). Secrets never reach a log call by design;
// redaction is the second line of defence for fields that could carry one.

import pino, { type Logger, type DestinationStream } from 'pino';

export const redactPaths = [
  'password', '*.password', 'secret', '*.secret', 'token', '*.token', 'authorization', '*.authorization',
  'req.headers.authorization', 'req.headers.cookie', 'adminSecret', '*.adminSecret',
];

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.STINT_LOG_LEVEL ?? 'info',
      base: { service: 'stint' },
      redact: { paths: redactPaths, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ dest: 2, sync: false }),
  );
}
