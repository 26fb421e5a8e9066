// What the grant services share: their settings, the revoke reasons and the
// credential shape. A module of its own so that provisioning, revocation,
// extension, credentials and the expiry sweeps import it rather than each other.

import type { HandedOver } from '../keys/grant-keys.js';

export interface GrantSettings {
  revokeRetryInitialMs: number;
  revokeRetryMaxMs: number;
  revokeConcurrency: number;
  /** How long a `revoking` claim lasts before another worker may retry it (crash recovery). */
  revokeLeaseMs: number;
  /** A grant still `provisioning` after this long was abandoned by a dead broker and is rolled back. */
  provisionTimeoutMs: number;
  /** Secrets for ephemeral accounts kept prepared ahead per target (default 16; 0 turns it off). */
  preparedSecrets?: number;
}

export const defaultGrantSettings: GrantSettings = {
  revokeRetryInitialMs: 1000,
  revokeRetryMaxMs: 60_000,
  revokeConcurrency: 8,
  // Revocation is idempotent, so a short lease is safe: at worst two workers both remove what is gone.
  revokeLeaseMs: 5_000,
  provisionTimeoutMs: 120_000,
};

/** What the owner logs in with (password, or for key kinds a private key or their own keys) is HandedOver's part. */
export interface Credentials extends HandedOver {
  target: string;
  kind: string;
  account: string;
  connection: Record<string, string | number>;
}

export type RevokeReason =
  | 'expired'
  | 'checked-in'
  | 'revoked-by-admin'
  | 'provisioning-failed'
  | 'provisioning-interrupted'
  | 'user-removed'
  | 'profile-removed'
  | 'target-removed'
  | 'drift'
  | 'session-ended'
  /** A session-bound grant whose gateway stopped renewing its lease (it or the broker died). */
  | 'session-lost';
