// Config fields of a redis target: the one declaration, used by the config
// loader (the shape, with its defaults) and by the connector (the schema,
// which fills the timeouts).

import { z } from 'zod';
import { DEFAULT_MARKER, MARKER_PATTERN } from './acl-rules.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

export const redisSettingsShape = {
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535),
  /** TLS with certificate verification against the system CAs. */
  tls: z.boolean().default(false),
  /** Channel pattern in the root rules of every user Stint creates; only such users are ever removed. */
  marker: z.string().regex(MARKER_PATTERN, 'must look like __stint…__ (lowercase letters, digits, _)').default(DEFAULT_MARKER),
  /** Default 10 s. */
  connectTimeoutMs: z.number().int().positive().max(120_000).optional(),
  /** Default 10 s. */
  commandTimeoutMs: z.number().int().positive().max(120_000).optional(),
};

// The timeouts are filled here rather than as field defaults, so a config
// that leaves them out is stored as written.
export const redisSettingsSchema = z
  .strictObject(redisSettingsShape)
  .transform((s) => ({ ...s, connectTimeoutMs: s.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS, commandTimeoutMs: s.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS }));

export type RedisSettings = z.output<typeof redisSettingsSchema>;
