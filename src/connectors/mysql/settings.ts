// Config fields of a mysql target: the one declaration, used by the config
// loader and by the connector (same schema, same defaults).

import { z } from 'zod';
import { checkGrant, checkHost, MAX_IDENT_CHARS } from './grammar.js';

const roleName = z.string().refine((s) => checkGrant(s) === null && !/\s/.test(s), 'must be a valid role name (no whitespace)');

export const mysqlSettingsShape = {
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535).default(3306),
  /** Host part of every ephemeral account, and of own-account strings written without `@`. */
  accountHost: z
    .string()
    .refine((h) => checkHost(h) === null, 'must be a lowercase MariaDB host pattern without @ (e.g. %, 10.0.0.%)')
    .default('%'),
  /** `require` encrypts without verifying the server certificate. */
  tls: z.enum(['disable', 'require']).default('disable'),
  /** Role granted to every account Stint creates; only its plain members are ever removed. */
  markerRole: roleName.default('stint_managed'),
  /** `event`: a scheduled event locks the account at expiry (needs event_scheduler=ON). `none`: the broker is the only clock. */
  nativeExpiry: z.enum(['event', 'none']).default('event'),
  /** Database holding the expiry events; the admin needs EVENT on it. */
  eventSchema: z
    .string()
    .min(1)
    .max(MAX_IDENT_CHARS)
    .refine((s) => !s.includes('\0') && !/\s$/.test(s), 'must be a database name')
    .default('stint'),
  connectTimeoutMs: z.number().int().positive().max(120_000).default(10_000),
  /** Default: room for broker.revokeConcurrency revocations plus a few other operations (at least 4). */
  maxConnections: z.number().int().min(1).max(100).optional(),
};

export const mysqlSettingsSchema = z.strictObject(mysqlSettingsShape);

export type MysqlSettings = z.infer<typeof mysqlSettingsSchema>;
