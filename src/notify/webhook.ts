// The generic webhook channel: the notification as JSON, signed with
// HMAC-SHA256 (X-Stint-Signature: sha256=HEX of the body) when a secret is
// configured (broker.webhooks). Sent from the outbox like every channel.

import { createHmac } from 'node:crypto';
import type { WebhookSettings } from '../config/load.js';
import type { Routing } from '../config/notifications.js';
import { notificationKinds, type NotificationKind, type OutboxRecord } from '../core/notify/notification.js';
import { postJson, type Channel } from './channel.js';

/** The kinds an older config's `request.decided` stood for. */
const decidedKinds: NotificationKind[] = ['request.approved', 'request.denied', 'request.cancelled', 'request.expired-unapproved'];

export function webhookRouting(events: readonly string[] | null): Routing {
  const kinds = events?.flatMap((e) => (e === 'request.decided' ? decidedKinds : notificationKinds.filter((k) => k === e)));
  return { events: kinds ?? null, profiles: null, targets: null, policies: null };
}

/** The body a webhook receives. */
export function webhookBody(row: OutboxRecord): string {
  const n = row.notification;
  return JSON.stringify({ ...n, at: new Date(n.at).toISOString(), source: 'stint', id: row.eventId });
}

export function createWebhookChannel(opts: { index: number; hook: WebhookSettings; env: NodeJS.ProcessEnv; timeoutMs?: number }): Channel {
  const { hook } = opts;
  const secret = hook.secretEnv ? opts.env[hook.secretEnv] : undefined;
  if (hook.secretEnv && !secret) throw new Error(`webhook ${new URL(hook.url).host}: environment variable ${hook.secretEnv} is not set`);
  return {
    name: `webhook:${opts.index + 1}`,
    type: 'webhook',
    routing: webhookRouting(hook.events),
    async send(row) {
      const body = webhookBody(row);
      const headers: Record<string, string> = { 'user-agent': 'stint-webhook' };
      if (secret) headers['x-stint-signature'] = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      await postJson(hook.url, body, { headers, timeoutMs: opts.timeoutMs ?? 5000, secrets: [secret ?? null] });
    },
    async close() {},
  };
}
