// Gateway sessions (read from the gateways' files by ../sessions-reader.ts)
// and where the gateways listen.

import { z } from 'zod';
import { sessionStatuses } from '../../core/types.js';

export const sessionView = z.object({
  id: z.string(),
  gateway: z.string().describe('postgres, ssh'),
  user: z.string(),
  profile: z.string(),
  target: z.string(),
  grantId: z.string(),
  account: z.string(),
  grantKind: z.string().describe('session-bound (made for this connection) or existing (an approved grant)'),
  client: z.string(),
  tls: z.boolean().nullable().describe('postgres: the client negotiated TLS; null for ssh'),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  endReason: z.string().nullable(),
  // live: open now; ended: closed normally; interrupted: no end line and no gateway holds it (the broker stopped during it).
  status: z.enum(sessionStatuses),
  // Bytes from the client and to it; null until the session ends.
  bytesIn: z.number().nullable(),
  bytesOut: z.number().nullable(),
  // Statements recorded (from the end line); null while open.
  statements: z.number().nullable(),
  // Some terminal recording exists (see recordings).
  recording: z.boolean(),
  recordings: z.array(z.number()).describe('channels with a terminal recording (GET …/recording?channel=N)'),
});
export type SessionView = z.infer<typeof sessionView>;

export const channelView = z.object({
  channel: z.number(),
  at: z.string(),
  kind: z.string().describe('shell, exec, subsystem, direct-tcpip'),
  detail: z.string().nullable(),
  pty: z.boolean(),
  // A terminal recording of this channel exists.
  recording: z.boolean(),
  endedAt: z.string().nullable(),
  exit: z.union([z.object({ code: z.number() }), z.object({ signal: z.string() })]).nullable(),
});
export type ChannelView = z.infer<typeof channelView>;

export const statementView = z.object({
  at: z.string(),
  protocol: z.string(),
  sql: z.string(),
  ms: z.number(),
  rows: z.number().nullable(),
  params: z.number().optional(),
  error: z.string().optional(),
});
export type StatementView = z.infer<typeof statementView>;

/** GET /v1/sessions/:id: the session, a page of its statement log (postgres) and its channels (ssh). */
export const sessionDetailView = z.object({
  session: sessionView,
  statements: z.array(statementView),
  // Statements in the file (the list holds one page of them).
  statementsTotal: z.number(),
  // ssh: the channels the session opened (shell, exec, subsystem, forward).
  channels: z.array(channelView),
});
export type SessionDetailView = z.infer<typeof sessionDetailView>;

/** GET /v1/gateways. */
export const gatewaysView = z.object({
  postgres: z.object({ listen: z.string(), tls: z.boolean(), requireTls: z.boolean(), certificate: z.string().nullable().describe('the PEM certificate the gateway presents, for sslrootcert') }).nullable(),
  ssh: z.object({ listen: z.string(), hostKey: z.string(), fingerprint: z.string() }).nullable(),
});
export type GatewaysView = z.infer<typeof gatewaysView>;
