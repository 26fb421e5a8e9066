import { z } from 'zod';
import type { ConnectorModule } from '../module.js';
import { DEFAULT_MARKER, MARKER_PATTERN, checkAccountName, checkGrant } from './acl-rules.js';
import { createRedisConnector } from './connector.js';

export const redisModule: ConnectorModule = {
  kind: 'redis',
  settings: {
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535),
    // TLS with certificate verification against the system CAs.
    tls: z.boolean().default(false),
    // Channel pattern in the root rules of every user Stint creates; only such users are ever removed.
    marker: z.string().regex(MARKER_PATTERN, 'must look like __stint…__ (lowercase letters, digits, _)').default(DEFAULT_MARKER),
    connectTimeoutMs: z.number().int().positive().max(120_000).optional(),
    commandTimeoutMs: z.number().int().positive().max(120_000).optional(),
  },
  modes: ['ephemeral-account', 'own-account'],
  checkGrant,
  checkAccount: checkAccountName,
  create: createRedisConnector,
};
