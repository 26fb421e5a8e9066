// Who is calling: the identity behind a token, a browser or CLI sign-in and
// the steps of the provider's sign-in flows, API tokens and SSH keys.

import { z } from 'zod';
import { allRoles } from '../../core/identity/roles.js';
import type { SshKeyRecord, TokenRecord } from '../../core/types.js';
import { iso } from './time.js';

/** GET /v1/me. */
export const meView = z.object({
  user: z.string(),
  groups: z.array(z.string()),
  admin: z.boolean(),
  roles: z.array(z.enum(allRoles)),
  accounts: z.record(z.string(), z.string()),
});
export type MeView = z.infer<typeof meView>;

/** GET/POST /v1/session: the browser's sign-in (not a gateway session). */
export const signInView = z.object({
  user: z.string(),
  groups: z.array(z.string()),
  admin: z.boolean(),
  roles: z.array(z.string()),
  method: z.enum(['oidc', 'token']),
  authTime: z.string(),
  expiresAt: z.string(),
  methods: z.array(z.string()),
});
export type SignInView = z.infer<typeof signInView>;

export const signedOutView = z.object({ signedOut: z.literal(true) });
export const ssoView = z.object({ enabled: z.boolean() });
export type SsoView = z.infer<typeof ssoView>;
export const loopbackStartView = z.object({ url: z.string() });
export const deviceStartView = z.object({
  handle: z.string(),
  userCode: z.string(),
  verificationUri: z.string(),
  verificationUriComplete: z.string().nullable(),
  interval: z.number(),
  expiresIn: z.number(),
});
export type DeviceStartView = z.infer<typeof deviceStartView>;
/** The CLI's sign-in secret, handed over once at the end of the loopback or device flow. */
export const cliSignInView = z.object({
  status: z.literal('done'),
  secret: z.string(),
  user: z.string(),
  groups: z.array(z.string()),
  roles: z.array(z.string()),
  expiresAt: z.string(),
});
export type CliSignInView = z.infer<typeof cliSignInView>;
export const devicePollView = z.union([z.object({ status: z.enum(['authorization_pending', 'slow_down']) }), cliSignInView]);
export type DevicePollView = z.infer<typeof devicePollView>;

export const tokenView = z.object({
  id: z.string(),
  user: z.string(),
  description: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});
export type TokenView = z.infer<typeof tokenView>;
export const toTokenView = (t: TokenRecord): TokenView => ({
  id: t.id,
  user: t.user,
  description: t.description,
  createdAt: iso(t.createdAt)!,
  expiresAt: iso(t.expiresAt)!,
  revokedAt: iso(t.revokedAt),
  lastUsedAt: iso(t.lastUsedAt),
});
/** POST /v1/tokens: the secret is in this response only. */
export const issuedTokenView = z.object({ token: tokenView, secret: z.string() });
export type IssuedTokenView = z.infer<typeof issuedTokenView>;
/** POST /v1/connect-tokens. */
export const connectTokenView = z.object({ token: z.string(), expiresAt: z.string(), user: z.string(), profile: z.string() });
export type ConnectTokenView = z.infer<typeof connectTokenView>;

export const sshKeyView = z.object({
  id: z.string(),
  user: z.string(),
  type: z.string().describe('ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, …'),
  publicKey: z.string().describe('type and base64, as in authorized_keys'),
  fingerprint: z.string().describe('SHA256:…, as ssh-keygen -lf prints it'),
  comment: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type SshKeyView = z.infer<typeof sshKeyView>;

export function toSshKeyView(k: SshKeyRecord): SshKeyView {
  return { ...k, createdAt: new Date(k.createdAt).toISOString() };
}

/** POST /v1/keys/challenge. */
export const keyChallengeView = z.object({
  challenge: z.string(),
  namespace: z.string(),
  expiresAt: z.string(),
  command: z.string().describe('how to sign it with OpenSSH'),
});
export type KeyChallengeView = z.infer<typeof keyChallengeView>;
