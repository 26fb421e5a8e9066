// The `notifications:` section: where notifications go (email over SMTP,
// Slack and Teams webhooks) and how the outbox delivers them. Built on first
// use (schema.ts imports this file and this file uses its helpers).

import { z } from 'zod';
import { notificationKinds } from '../core/notify/notification.js';
import { durationSchema, envVarPattern, intSchema, isLoopbackHost, nameSchema, oneOf, quoteValue, strict } from './schema.js';

// One address, no display name: what a person's `email` holds.
const emailPattern = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+\.[^\s@<>(),;:"[\]\\]+$/;

let emailSchema: z.ZodString | undefined;
export function emailAddressSchema() {
  emailSchema ??= z
    .string()
    .max(254)
    .regex(emailPattern, { error: (iss) => `${quoteValue(String(iss.input))} is not an email address (name@example.com)` });
  return emailSchema;
}

const envVar = () =>
  z
    .string()
    .regex(envVarPattern, { error: (iss) => `${quoteValue(String(iss.input))} is not an environment variable name` })
    .optional();
const filePath = () =>
  z
    .string()
    .min(1, { error: 'must not be empty' })
    .refine((p) => !p.includes('\0'), { error: 'contains a NUL character' })
    .optional();

/** Which notifications a channel takes: by kind, and by the request's profile, target and policy; all when omitted. */
const routing = () => ({
  events: z.array(oneOf(notificationKinds)).min(1).optional(),
  profiles: z.array(nameSchema('profile')).min(1).optional(),
  targets: z.array(nameSchema('target')).min(1).optional(),
  policies: z.array(nameSchema('policy')).min(1).optional(),
});

/** A chat webhook: its URL carries a secret, so it comes from the environment or a 0600 file. */
const chatSchema = () =>
  strict({ name: nameSchema('channel'), urlEnv: envVar(), urlFile: filePath(), ...routing() }).refine(
    (c) => (c.urlEnv === undefined) !== (c.urlFile === undefined),
    { message: 'give urlEnv (an environment variable) or urlFile, one of them' },
  );

let built: z.ZodType | undefined;
export function notificationsSchema() {
  built ??= strict({
    // The web UI's address as people reach it: messages link to WEBURL/requests/REQ.
    webUrl: z.string().refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol) && new URL(u).search === '' && new URL(u).hash === '', {
      error: 'must be an http:// or https:// URL without query or fragment',
    }),
    delivery: strict({
      retryInitial: durationSchema({ minMs: 10 }).optional(),
      retryMax: durationSchema({ minMs: 10, maxMs: 3_600_000 }).optional(),
      giveUpAfter: durationSchema({ minMs: 60_000, maxMs: 7 * 86_400_000 }).optional(),
      lease: durationSchema({ minMs: 1000, maxMs: 3_600_000 }).optional(),
    }).optional(),
    email: strict({
      host: z.string().min(1).max(253),
      port: intSchema(1, 65535).optional(),
      // starttls: upgrade on the submission port (required, not opportunistic); tls: TLS from the first byte; none: plain, loopback only.
      security: oneOf(['starttls', 'tls', 'none'] as const).optional(),
      user: z.string().min(1).max(256).optional(),
      passwordEnv: envVar(),
      passwordFile: filePath(),
      from: emailAddressSchema(),
      ...routing(),
    })
      .refine((e) => !(e.passwordEnv !== undefined && e.passwordFile !== undefined), {
        message: 'give passwordEnv or passwordFile, not both',
        path: ['passwordFile'],
      })
      .refine((e) => (e.user === undefined) === (e.passwordEnv === undefined && e.passwordFile === undefined), {
        message: 'give user together with passwordEnv or passwordFile (or none of them)',
        path: ['user'],
      })
      .refine((e) => e.security !== 'none' || isLoopbackHost(e.host), { message: 'security: none only on a loopback host', path: ['security'] })
      .optional(),
    slack: z.array(chatSchema()).max(20).optional(),
    teams: z.array(chatSchema()).max(20).optional(),
  });
  return built;
}

export type NotificationsConfig = {
  webUrl: string;
  delivery?: { retryInitial?: number; retryMax?: number; giveUpAfter?: number; lease?: number };
  email?: {
    host: string;
    port?: number;
    security?: 'starttls' | 'tls' | 'none';
    user?: string;
    passwordEnv?: string;
    passwordFile?: string;
    from: string;
  } & Routing;
  slack?: ChatConfig[];
  teams?: ChatConfig[];
};
type Routing = { events?: string[]; profiles?: string[]; targets?: string[]; policies?: string[] };
export type ChatConfig = { name: string; urlEnv?: string; urlFile?: string } & Routing;
