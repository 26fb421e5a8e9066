// Config fields of a postgres target: the one declaration, used by the config
// loader (the shape, with its defaults) and by the connector (the schema,
// which adds the cross-field check and fills the marker role names).

import { z } from 'zod';
import { parseCidr } from './hba-check.js';

// PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1), which
// would make the role we create differ from the one we later look up.
export const MAX_IDENTIFIER_BYTES = 63;

export const identifierSchema = z
  .string()
  .min(1)
  .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_IDENTIFIER_BYTES && !s.includes('\0'), {
    message: `must be at most ${MAX_IDENTIFIER_BYTES} bytes and contain no NUL`,
  });

export const DEFAULT_MARKER_ROLE = 'stint_managed';
export const DEFAULT_GATEWAY_MARKER_ROLE = 'stint_gateway';

export const postgresSettingsShape = {
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535),
  database: z
    .string()
    .min(1)
    .max(63)
    .refine((s) => !s.includes('\0'), 'must not contain NUL'),
  /** `require` encrypts without verifying the server certificate, as libpq's sslmode=require. */
  sslmode: z.enum(['disable', 'require']).default('disable'),
  /** NOLOGIN role every ephemeral account is made a member of; only its members are ever removed. Default stint_managed. */
  markerRole: identifierSchema.optional(),
  /**
   * NOLOGIN role a session gateway's own accounts are also members of (their
   * credential never leaves the broker): pg_hba.conf admits its members only
   * from the gateway (README.md). Default stint_gateway.
   */
  gatewayMarkerRole: identifierSchema.optional(),
  /**
   * Addresses (IP or CIDR) the target sees the gateway connect from. Reconcile
   * checks pg_hba.conf against them: members of the gateway marker must not be
   * able to log in from anywhere else.
   */
  gatewayAddresses: z
    .array(z.string().refine((v) => parseCidr(v) !== null, { message: 'must be an IP address or CIDR (10.0.0.5, 10.0.0.0/24, 2001:db8::/64)' }))
    .min(1)
    .optional(),
  connectTimeoutMs: z.number().int().positive().max(120_000).optional(),
  /** Default: room for broker.revokeConcurrency revocations plus a few other operations (at least 4). */
  maxConnections: z.number().int().min(1).max(100).optional(),
};

// The marker names are filled here rather than as field defaults, so a config
// that leaves them out is stored as written.
export const postgresSettingsSchema = z
  .strictObject(postgresSettingsShape)
  .transform((s) => ({ ...s, markerRole: s.markerRole ?? DEFAULT_MARKER_ROLE, gatewayMarkerRole: s.gatewayMarkerRole ?? DEFAULT_GATEWAY_MARKER_ROLE }))
  .refine((s) => s.markerRole !== s.gatewayMarkerRole, { message: 'gatewayMarkerRole must differ from markerRole', path: ['gatewayMarkerRole'] });

export type PostgresSettings = z.output<typeof postgresSettingsSchema>;
