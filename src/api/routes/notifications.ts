// GET /v1/notifications: the notification outbox, newest first (admins only:
// rows name people's email addresses).

import { z } from 'zod';
import { forbidden } from '../../core/errors.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { notificationsView, type NotificationRowView } from '../views/index.js';
import type { OutboxRecord } from '../../core/notify/notification.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const query = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed', 'failing']).optional().describe('failing: failed rows and pending rows that failed at least once'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function notificationRowOf(r: OutboxRecord): NotificationRowView {
  return {
    id: r.id,
    eventId: r.eventId,
    kind: r.kind,
    channel: r.channel,
    recipient: r.recipient,
    audience: r.audience,
    status: r.status,
    attempts: r.attempts,
    createdAt: iso(r.createdAt)!,
    nextAttemptAt: r.status === 'pending' ? iso(r.nextAttemptAt) : null,
    deliveredAt: iso(r.deliveredAt),
    lastError: r.lastError,
    requestId: r.notification.requestId ?? null,
    grantId: r.notification.grantId ?? null,
  };
}

export function notificationRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'GET',
      url: '/v1/notifications',
      tag: 'meta',
      auth: 'admin',
      summary: 'The notification outbox, newest first: each row, its channel, status, attempts and last error (admins)',
      query,
      response: notificationsView,
      handler: async ({ actor, query }) => {
        // Not for auditors: the rows carry people's email addresses, which no audit question needs.
        if (!actor.admin) throw forbidden('this needs an admin token');
        const [rows, counts] = await Promise.all([deps.store.listNotifications({ state: query.status, limit: query.limit }), deps.store.countNotifications()]);
        return { notifications: rows.map(notificationRowOf), counts };
      },
    }),
  ];
}
