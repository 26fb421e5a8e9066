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
  status: z
    .enum(sessionStatuses)
    .describe('live: open now; ended: closed normally; interrupted: no end line and no gateway holds it (the broker stopped during it)'),
  bytesIn: z.number().nullable().describe('bytes from the client; null until the session ends'),
  bytesOut: z.number().nullable().describe('bytes to the client; null until the session ends'),
  statements: z.number().nullable().describe('statements recorded; null while open'),
  recording: z.boolean().describe('some terminal recording exists (see recordings)'),
  recordings: z.array(z.number()).describe('channels with a terminal recording (GET …/recording?channel=N)'),
});
export type SessionView = z.infer<typeof sessionView>;

export const channelView = z.object({
  channel: z.number(),
  at: z.string(),
  kind: z.string().describe('shell, exec, subsystem, direct-tcpip'),
  detail: z.string().nullable(),
  pty: z.boolean(),
  recording: z.boolean().describe('a terminal recording of this channel exists'),
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
  statementsTotal: z.number().describe('statements in the log; the list holds one page of them (limit, offset)'),
  channels: z.array(channelView).describe('ssh: the channels the session opened (shell, exec, subsystem, forward)'),
});
export type SessionDetailView = z.infer<typeof sessionDetailView>;

/** GET /v1/gateways. */
export const gatewaysView = z.object({
  postgres: z
    .object({
      listen: z.string(),
      tls: z.boolean(),
      requireTls: z.boolean(),
      certificate: z.string().nullable().describe('the PEM certificate the gateway presents, for sslrootcert'),
    })
    .nullable(),
  ssh: z.object({ listen: z.string(), hostKey: z.string(), fingerprint: z.string() }).nullable(),
});
export type GatewaysView = z.infer<typeof gatewaysView>;
