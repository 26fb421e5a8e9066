// Domain vocabulary of Stint (see the README's Concepts and docs/architecture.md). Config-derived definitions
// (users, targets, profiles, policies) are plain values; requests, grants and
// audit events are records in the store.

import type { Role, RolesConfig } from './identity/roles.js';

export type TargetKind = 'postgres' | 'mysql' | 'redis' | 'ssh' | 'ldap' | 'script' | 'ad' | 'keystone';

// Each list of states is declared once, here; the unions derive from it, and
// the API's zod views (src/api/views/) use the same arrays as enums.

export const deliveryModes = ['ephemeral-account', 'own-account'] as const;
export type DeliveryMode = (typeof deliveryModes)[number];

export const requestStatuses = ['pending', 'approved', 'denied', 'cancelled', 'expired-unapproved'] as const;
export type RequestStatus = (typeof requestStatuses)[number];

/**
 * provisioning → active → revoking → revoked. A revocation that fails moves to
 * `revoke-failing` and is retried forever; it is never silently given up.
 * A provisioning that fails is cleaned up through the same revoke path.
 */
export const grantStatuses = ['provisioning', 'active', 'revoking', 'revoke-failing', 'revoked'] as const;
export type GrantStatus = (typeof grantStatuses)[number];

/** Grants in these states may hold access on the target. */
export const liveGrantStatuses = ['provisioning', 'active', 'revoking', 'revoke-failing'] as const satisfies readonly GrantStatus[];
export type LiveGrantStatus = (typeof liveGrantStatuses)[number];

/**
 * A gateway session as the API reports it: live (open now), ended (closed
 * normally), interrupted (no end line and no gateway holds it: the broker
 * stopped during it).
 */
export const sessionStatuses = ['live', 'ended', 'interrupted'] as const;
export type SessionStatus = (typeof sessionStatuses)[number];

/** A break-glass activation: waiting for its review, or reviewed. */
export const reviewStatuses = ['open', 'reviewed'] as const;
export type ReviewStatus = (typeof reviewStatuses)[number];

export interface UserDef {
  name: string;
  groups: string[];
  /** The person's own account per target, for `own-account` profiles. */
  accounts: Record<string, string>;
  /** What the person may do in Stint itself (see core/identity/roles.ts). */
  roles: Role[];
  /** Same as `roles.includes('admin')`. */
  admin: boolean;
  /** A non-person (CI, a script): admins may create its tokens. */
  service?: boolean;
  /** When this person last proved who they are (ms); set only for a sign-in, not for API tokens. */
  authTime?: number;
  /** Where email notifications reach this person (config users[].email). */
  email?: string;
}

export interface TargetDef {
  name: string;
  kind: TargetKind;
  critical: boolean;
  /** Template of a person's own account here when they have no accounts entry: `{username}` becomes their name. */
  ownAccount?: string;
  /** Kind-specific connection settings (validated by the config schema of the kind). */
  settings: Record<string, unknown>;
  /** Where the admin secret comes from; never the secret itself. */
  adminUser: string;
  adminSecretSource: { env: string } | { file: string } | { inline: 'demo' };
}

export interface ProfileDef {
  name: string;
  target: string;
  mode: DeliveryMode;
  /** Target-native permissions (roles/groups) the profile delivers. */
  grants: string[];
  maxDurationMs: number;
  /** own-account: end the user's live sessions on the target at revoke. Ephemeral accounts always do. */
  terminateSessionsOnRevoke: boolean;
  description: string;
  /** SSH gateway: `HOST:PORT` / `HOST:*` destinations ssh -L / -W may reach (lowercase); empty: none. */
  portForwarding: string[];
  /** Requesting needs a sign-in at most this old (ms); null or absent: any. */
  stepUpMs?: number | null;
  /** Members of these groups may activate it without approval (reason required, alerted, reviewed after). */
  breakGlass?: { groups: string[] };
  /** Gateway sessions of this profile one person may have open at once; absent: the gateway's default (20). */
  gatewaySessions?: number;
  /** ad: the built-in privileged groups (Domain Admins, …) may be granted; absent: refused. */
  allowBuiltinPrivileged?: boolean;
}

export type ApprovalRule =
  | { kind: 'auto' }
  | {
      kind: 'approvers';
      users: string[];
      groups: string[];
      count: number;
      /** Approving needs a sign-in at most this old (ms); null or absent: any. */ stepUpMs?: number | null;
    };

export interface PolicyDef {
  name: string;
  effect: 'allow' | 'deny';
  subjects: { users: string[]; groups: string[] };
  /** Profile names or globs (`pg-*`). */
  profiles: string[];
  maxDurationMs: number | null;
  requireReason: boolean;
  requireTicket: boolean;
  approval: ApprovalRule;
  /** How long a request may wait for approvers before it expires unapproved. */
  pendingTimeoutMs: number | null;
}

export interface RequestRecord {
  id: string;
  user: string;
  profile: string;
  target: string;
  mode: DeliveryMode;
  policy: string;
  durationMs: number;
  maxDurationMs: number;
  reason: string | null;
  ticket: string | null;
  status: RequestStatus;
  requiredApprovals: number;
  approverUsers: string[];
  approverGroups: string[];
  createdAt: number;
  pendingExpiresAt: number | null;
  decidedAt: number | null;
  decidedBy: string | null;
  decisionComment: string | null;
  grantId: string | null;
  version: number;
}

export interface ApprovalRecord {
  requestId: string;
  approver: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  at: number;
}

export interface GrantRecord {
  id: string;
  requestId: string;
  user: string;
  profile: string;
  target: string;
  mode: DeliveryMode;
  /** Account name on the target: the ephemeral account, or the person's own. */
  account: string;
  /** Target-native permissions this grant holds. */
  roles: string[];
  durationMs: number;
  maxDurationMs: number;
  terminateSessions: boolean;
  status: GrantStatus;
  createdAt: number;
  activatedAt: number | null;
  expiresAt: number | null;
  revokeReason: string | null;
  revokeRequestedBy: string | null;
  revokedAt: number | null;
  lastError: string | null;
  attempts: number;
  nextAttemptAt: number | null;
  failingSince: number | null;
  /** Vault-sealed credential for ephemeral accounts; null for own-account. */
  sealedSecret: string | null;
  /**
   * Session-bound grants only (made by a gateway for one connection): the
   * gateway keeps pushing this forward while the connection lives. Once it
   * passes, the grant is due for revocation (`session-lost`), so a gateway or
   * broker that dies cannot leave a session's account behind until expiry.
   * null for every other grant.
   */
  sessionLeaseUntil: number | null;
  /**
   * The broker whose claim on this grant's work (provisioning, revocation) is
   * live until `claimedUntil`: another broker takes the work over only once
   * the claim lapses. Not a CAS change (renewing it leaves `version` alone).
   */
  claimedBy: string | null;
  claimedUntil: number | null;
  version: number;
}

/** One running `stint server` sharing the store, as its heartbeat last wrote it. */
export interface BrokerRecord {
  id: string;
  /** Where its HTTP API listens, as it printed it. */
  address: string;
  version: string;
  /** sha256 of the config file it runs with (hex). */
  configDigest: string;
  startedAt: number;
  heartbeatAt: number;
}

/** A broker and the grants whose work it holds a live claim on. */
export interface BrokerStatus extends BrokerRecord {
  heldGrants: number;
}

export interface AuditInput {
  at: number;
  actor: string;
  action: string;
  requestId?: string | null;
  grantId?: string | null;
  target?: string | null;
  subjectUser?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditEvent {
  seq: number;
  at: number;
  actor: string;
  action: string;
  requestId: string | null;
  grantId: string | null;
  target: string | null;
  subjectUser: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface TokenRecord {
  id: string;
  user: string;
  hash: string;
  description: string | null;
  createdAt: number;
  /** Every API token expires (default 90 days, at most a year); refused from then on. */
  expiresAt: number;
  revokedAt: number | null;
  /** Last successful use; written at most once a minute per token. */
  lastUsedAt: number | null;
}

/**
 * A break-glass activation: a grant made without approval from a profile's
 * `breakGlass` groups. It stays unreviewed until someone other than its holder
 * records a review.
 */
export interface BreakGlassRecord {
  grantId: string;
  requestId: string;
  user: string;
  profile: string;
  target: string;
  reason: string;
  createdAt: number;
  reviewedAt: number | null;
  reviewedBy: string | null;
  reviewComment: string | null;
}

/**
 * A person's (or a service user's) presence in Stint, web or CLI: made by a
 * sign-in at the identity provider, or by a browser exchanging an API token.
 * Its secret is a cookie or the CLI's bearer; only its hash is stored.
 */
export interface SignInRecord {
  id: string;
  /** SHA-256 of the secret. */
  hash: string;
  user: string;
  /** Groups at sign-in or at the last check with the provider. */
  groups: string[];
  email: string | null;
  method: 'oidc' | 'token';
  client: 'web' | 'cli';
  /** method token: the API token it came from; revoking that token ends this sign-in. */
  tokenHash: string | null;
  createdAt: number;
  /** When the person last authenticated at the provider (OIDC auth_time), or signed in with a token. */
  authTime: number;
  expiresAt: number;
  /** Last confirmation from the provider that the person may still sign in. */
  checkedAt: number;
  /** The provider's refresh token, sealed by the vault; null when it gave none. */
  refreshSealed: string | null;
  endedAt: number | null;
  endReason: string | null;
}

/**
 * A sign-in under way at the identity provider: the browser's authorization
 * code flow (kind web), or the CLI's device flow or loopback flow (kind
 * device / loopback). Used once.
 */
export interface PendingLoginRecord {
  /** SHA-256 of its handle: the OAuth `state` (web, loopback) or the CLI's polling handle (device). */
  hash: string;
  kind: 'web' | 'device' | 'loopback' | 'loopback-code';
  /** Sealed JSON of what finishing needs: PKCE verifier, nonce, device code, where to go back to. */
  sealed: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

/** A one-time token for one gateway login to one profile (`stint connect PROFILE`). */
export interface ConnectTokenRecord {
  /** SHA-256 of the secret; the secret itself is never stored. */
  hash: string;
  user: string;
  profile: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

/** A public key a user registered to log in to the SSH gateway (`stint keys add`). */
export interface SshKeyRecord {
  id: string;
  user: string;
  /** Key algorithm, e.g. ssh-ed25519. */
  type: string;
  /** `type base64`, without comment or options: what is compared at login. */
  publicKey: string;
  /** `SHA256:…`, as ssh-keygen -lf prints it. Unique across all users. */
  fingerprint: string;
  comment: string | null;
  createdAt: number;
  createdBy: string;
}

/** Everything the config file defines, indexed for lookups. Immutable once loaded. */
export interface Catalog {
  targets: ReadonlyMap<string, TargetDef>;
  profiles: ReadonlyMap<string, ProfileDef>;
  policies: readonly PolicyDef[];
  users: ReadonlyMap<string, UserDef>;
  /** Which groups give which Stint role (config `roles:`). */
  roles: RolesConfig;
  /** identity.oidc is set: people need no `users:` entry, the provider says who they are. */
  peopleFromProvider?: boolean;
}
