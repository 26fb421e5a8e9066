// GET /v1/notifications: the outbox rows (admins), to see what keeps failing.
// Only what the broker wrote itself: channel names, never webhook URLs; the
// last error was scrubbed of the channel's secrets when it was recorded.

import { z } from 'zod';

export const notificationRowView = z.object({
  id: z.string(),
  eventId: z.string().describe('shared by the rows of one notification (one per channel and, for email, per recipient)'),
  kind: z.string().describe('request.pending, grant.active, …'),
  channel: z.string().describe('the channel name from the config: email, slack:NAME, teams:NAME, webhook:N'),
  recipient: z.string().nullable().describe('for email: the address'),
  audience: z.string().nullable().describe('for email: approver, requester, holder or admin'),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number(),
  createdAt: z.string(),
  nextAttemptAt: z.string().nullable().describe('pending rows: when the next attempt is due'),
  deliveredAt: z.string().nullable(),
  lastError: z.string().nullable().describe("the last attempt's error, without the channel's secrets"),
  requestId: z.string().nullable(),
  grantId: z.string().nullable(),
});
export type NotificationRowView = z.infer<typeof notificationRowView>;

export const notificationsView = z.object({
  notifications: z.array(notificationRowView),
  counts: z.object({
    pending: z.number(),
    retrying: z.number().describe('pending rows that failed at least once'),
    failed: z.number().describe('rows given up (refused, or failing for notifications.delivery.giveUpAfter)'),
  }),
});
export type NotificationsView = z.infer<typeof notificationsView>;
