import { z } from 'zod';
import type { ConnectorModule } from '../module.js';
import { createPostgresConnector } from './connector.js';
import { parseCidr } from './hba-check.js';

/** PostgreSQL identifiers: any text but NUL, at most 63 bytes (longer names would be truncated silently). */
function checkIdentifier(what: string, v: string): string | null {
  if (v.length === 0) return `${what} must not be empty`;
  if (v.includes('\0')) return `${what} must not contain a NUL character`;
  if (Buffer.byteLength(v, 'utf8') > 63) return `longer than 63 bytes (PostgreSQL's identifier limit)`;
  return null;
}

export const postgresModule: ConnectorModule = {
  kind: 'postgres',
  settings: {
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535),
    database: z.string().min(1).max(63).refine((s) => !s.includes('\0'), 'must not contain NUL'),
    sslmode: z.enum(['disable', 'require']).default('disable'),
    // The NOLOGIN role every Stint-made account is a member of; only its members are ever removed.
    markerRole: z.string().min(1).max(63).refine((s) => !s.includes('\0'), 'must not contain NUL').optional(),
    // The NOLOGIN role a session gateway's own accounts are also members of (pg_hba.conf admits them only from the gateway).
    gatewayMarkerRole: z.string().min(1).max(63).refine((s) => !s.includes('\0'), 'must not contain NUL').optional(),
    // Addresses the target sees the gateway connect from; reconcile checks pg_hba.conf against them.
    gatewayAddresses: z.array(z.string().refine((v) => parseCidr(v) !== null, 'must be an IP address or CIDR (10.0.0.5, 10.0.0.0/24, 2001:db8::/64)')).min(1).optional(),
  },
  modes: ['ephemeral-account', 'own-account'],
  checkGrant: (g) => checkIdentifier('a role name', g),
  checkAccount: (a) => checkIdentifier('a role name', a),
  create: createPostgresConnector,
};
