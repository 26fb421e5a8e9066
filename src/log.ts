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
 * every line cost three times as much to write, nested objects or not. Runs
 * on each line's fields and on a child logger's bindings (createLogger); copies what it
 * censors, so the caller's object is left as it was. Arrays, and objects
 * interpolated into the message (`%j`), are not looked into: log secrets in
 * neither (nothing in Stint does).
 */
export function censorNested(line: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const key in line) {
    const value = line[key];
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    let shown: unknown;
    try {
      const viaToJSON = typeof (value as { toJSON?: unknown }).toJSON === 'function';
      if (!viaToJSON && !sensitiveFields.some((f) => Object.hasOwn(value, f))) continue;
      shown = censoredCopy(value, viaToJSON);
    } catch {
      // A getter, trap or toJSON that throws: pino would have written a placeholder for the
      // line; this writes one for the field, never the field itself, and never throws.
      shown = '[unserializable]';
    }
    (out ??= { ...line })[key] = shown;
  }
  return out ?? line;
}

/** `value` as it would be logged, with the sensitive fields censored in a copy. */
function censoredCopy(value: object, viaToJSON: boolean): unknown {
  if (viaToJSON) {
    // Logged as its toJSON() gives it; censored if that carries the fields.
    const shown: unknown = (value as { toJSON(): unknown }).toJSON();
    if (shown === null || typeof shown !== 'object' || Array.isArray(shown)) return shown;
    return censoredCopy(shown, false);
  }
  const proto: unknown = Object.getPrototypeOf(value);
  // Anything but a plain object (an Error, say) keeps its prototype and every own property,
  // message, stack and cause included, so pino's serializers see it as what it is.
  const copy: Record<string, unknown> =
    proto === Object.prototype || proto === null ? { ...(value as Record<string, unknown>) } : Object.create(proto as object, snapshotDescriptors(value));
  for (const field of sensitiveFields) {
    if (Object.hasOwn(copy, field)) Object.defineProperty(copy, field, { value: '***', enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/**
 * `value`'s own property descriptors, each accessor replaced by the value it gives on
 * `value` itself. Since V8 13 (Node 24) an Error's `stack` is an own accessor that reads
 * the trace from the object it is called on: copied as an accessor, it gave `undefined`
 * on the copy, and the logged stack lost the error's message.
 */
function snapshotDescriptors(value: object): PropertyDescriptorMap {
  const descriptors = Object.getOwnPropertyDescriptors(value);
  for (const key of Reflect.ownKeys(descriptors)) {
    const d = descriptors[key as string]!;
    if (d.get === undefined && d.set === undefined) continue;
    descriptors[key as string] = { value: Reflect.get(value, key), enumerable: d.enumerable, writable: true, configurable: true };
  }
  return descriptors;
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
  const logger = pino(
    {
      level: opts.level ?? process.env.STINT_LOG_LEVEL ?? 'info',
      base: { service: 'stint' },
      redact: { paths: redactPaths, censor: '***' },
      formatters: { log: censorNested },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? logDestination(2),
  );
  // A child's bindings skip formatters.log (and pino resets formatters.bindings
  // for children), so they are censored on the way in. Children inherit this
  // child(), with `this` the logger it is called on.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, censorNested(bindings), options);
  } as Logger['child'];
  return logger;
}
