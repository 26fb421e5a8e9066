// Grants and the one response that carries a secret (the credential).

import { z } from 'zod';
import { formatDuration } from '../../core/duration.js';
import { deliveryModes, grantStatuses, type GrantRecord } from '../../core/types.js';
import { iso } from './time.js';

export const grantView = z.object({
  id: z.string(),
  requestId: z.string(),
  user: z.string(),
  profile: z.string(),
  target: z.string(),
  mode: z.enum(deliveryModes),
  account: z.string(),
  roles: z.array(z.string()),
  status: z.enum(grantStatuses),
  duration: z.string(),
  maxDuration: z.string(),
  createdAt: z.string(),
  activatedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  remainingMs: z.number().nullable(),
  revokeReason: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastError: z.string().nullable(),
  attempts: z.number(),
  failingSince: z.string().nullable(),
  sessionBound: z.boolean().describe('made by a session gateway for one connection; revoked when it closes'),
});
export type GrantView = z.infer<typeof grantView>;

export function toGrantView(g: GrantRecord, now: number): GrantView {
  return {
    id: g.id,
    requestId: g.requestId,
    user: g.user,
    profile: g.profile,
    target: g.target,
    mode: g.mode,
    account: g.account,
    roles: g.roles,
    status: g.status,
    duration: formatDuration(g.durationMs),
    maxDuration: formatDuration(g.maxDurationMs),
    createdAt: iso(g.createdAt)!,
    activatedAt: iso(g.activatedAt),
    expiresAt: iso(g.expiresAt),
    remainingMs: g.status === 'active' && g.expiresAt !== null ? Math.max(0, g.expiresAt - now) : null,
    revokeReason: g.revokeReason,
    revokedAt: iso(g.revokedAt),
    lastError: g.lastError,
    attempts: g.attempts,
    failingSince: iso(g.failingSince),
    sessionBound: g.sessionLeaseUntil !== null,
  };
}

/** GET /v1/grants/:id/credentials: the connection fields also appear at the top level (host, port, database). */
export const credentialsView = z.object({
  target: z.string(),
  kind: z.string(),
  username: z.string(),
  password: z.string().nullable(),
  host: z.string().optional(),
  port: z.number().optional(),
  database: z.string().optional(),
  connection: z.record(z.string(), z.union([z.string(), z.number()])),
  /** Kinds that log in with keys (ssh): an OpenSSH private key, when none of the owner's registered keys is installed. */
  privateKey: z.string().nullable().optional(),
  /** The owner's registered keys the account accepts. */
  publicKeys: z.array(z.object({ fingerprint: z.string(), comment: z.string().nullable() })).optional(),
  /** How to log in directly; KEYFILE stands for the private key's file. */
  login: z.string().optional(),
});
export type CredentialsView = z.infer<typeof credentialsView>;
