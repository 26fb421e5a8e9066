// Shapes of the API responses the CLI reads. Type-only imports of the API's
// own zod views, so a change there fails the CLI's type-check, not a user.

import type { z } from 'zod';
import type { approvalView, auditView, grantView, requestView, tokenView } from '../api/views.js';
import type { sshKeyView } from '../api/routes/keys.js';

export type GrantView = z.infer<typeof grantView>;
export type RequestView = z.infer<typeof requestView>;
export type ApprovalView = z.infer<typeof approvalView>;
export type AuditView = z.infer<typeof auditView>;
export type TokenView = z.infer<typeof tokenView>;
export type SshKeyView = z.infer<typeof sshKeyView>;

export type GrantStatus = GrantView['status'];
export type RequestStatus = RequestView['status'];

/** POST /v1/requests, approve, deny. */
export interface Outcome {
  request: RequestView;
  grant: GrantView | null;
}

/** GET /v1/profiles (the view is local to routes/profiles.ts). */
export interface ProfileView {
  name: string;
  description: string;
  target: string;
  targetKind: string;
  critical: boolean;
  mode: 'ephemeral-account' | 'own-account';
  grants: string[];
  maxDuration: string;
  maxDurationMs: number;
  requestable: boolean;
  approval: string;
  requireReason: boolean;
  requireTicket: boolean;
}

/** GET /v1/grants/:id/credentials. */
export interface CredentialsView {
  target: string;
  kind: string;
  username: string;
  password: string | null;
  host?: string;
  port?: number;
  database?: string;
  connection: Record<string, string | number>;
  /** Kinds that log in with keys (ssh): an OpenSSH private key, when none of your registered keys is installed. */
  privateKey?: string | null;
  /** Your registered keys the account accepts. */
  publicKeys?: Array<{ fingerprint: string; comment: string | null }>;
  /** How to log in directly; KEYFILE stands for the private key's file. */
  login?: string;
}

/** GET /v1/me. */
export interface MeView {
  user: string;
  groups: string[];
  admin: boolean;
  roles: string[];
  accounts: Record<string, string>;
}

/** GET /v1/audit/verify. */
export interface VerifyView {
  ok: boolean;
  events: number;
  head: string | null;
  firstBadSeq: number | null;
  problem: string | null;
}
