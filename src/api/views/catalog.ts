// What the config defines, as the API shows it: profiles (with what it takes
// the caller to request each), targets and their health (admins), and the
// loaded profiles and policies (admins).

import { z } from 'zod';
import { deliveryModes, liveGrantStatuses, type LiveGrantStatus } from '../../core/types.js';

export const profileView = z.object({
  name: z.string(),
  description: z.string(),
  target: z.string(),
  targetKind: z.string(),
  critical: z.boolean(),
  mode: z.enum(deliveryModes),
  grants: z.array(z.string()),
  maxDuration: z.string(),
  maxDurationMs: z.number(),
  requestable: z.boolean(),
  approval: z.string().describe('"auto", or "N approval(s)"; "none" when no policy lets you request it'),
  requireReason: z.boolean(),
  requireTicket: z.boolean(),
});
export type ProfileView = z.infer<typeof profileView>;

/** GET /v1/targets: no addresses, no credentials. */
export const targetView = z.object({ name: z.string(), kind: z.string(), critical: z.boolean() });
export type TargetView = z.infer<typeof targetView>;

export const targetHealthView = z.object({
  name: z.string(),
  kind: z.string(),
  critical: z.boolean(),
  health: z.object({
    ok: z.boolean(),
    checkedAt: z.string(),
    latencyMs: z.number(),
    error: z.string().nullable(),
  }),
  // One count per status that may hold access.
  grants: z.object(Object.fromEntries(liveGrantStatuses.map((s) => [s, z.number()])) as Record<LiveGrantStatus, z.ZodNumber>),
});
export type TargetHealthView = z.infer<typeof targetHealthView>;

export const policyView = z.object({
  name: z.string(),
  effect: z.enum(['allow', 'deny']),
  subjects: z.object({ users: z.array(z.string()), groups: z.array(z.string()) }),
  profiles: z.array(z.string()),
  maxDuration: z.string().nullable(),
  requireReason: z.boolean(),
  requireTicket: z.boolean(),
  approval: z.string(),
  pendingTimeout: z.string().nullable(),
});
export type PolicyView = z.infer<typeof policyView>;

export const configProfileView = z.object({
  name: z.string(),
  target: z.string(),
  mode: z.enum(deliveryModes),
  grants: z.array(z.string()),
  maxDuration: z.string(),
  terminateSessionsOnRevoke: z.boolean(),
  description: z.string(),
});
export type ConfigProfileView = z.infer<typeof configProfileView>;

/** GET /v1/admin/config. */
export const configView = z.object({ file: z.string().nullable(), profiles: z.array(configProfileView), policies: z.array(policyView) });
export type ConfigView = z.infer<typeof configView>;
