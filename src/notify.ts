// Notifications (approvals needed, grants active/revoked, revocations
// failing). The log notifier always runs; webhooks POST the same events as
// JSON, signed with HMAC-SHA256 when a secret is configured. Delivery never
// blocks or fails the operation that caused it: it is queued, retried a few
// times with backoff, and dropped with an error log if the receiver stays down.

import { createHmac } from 'node:crypto';
import type { Logger, Notification, Notifier } from './core/ports.js';
import { safeErrorText } from './core/scrub.js';
import type { WebhookSettings } from './config/load.js';

export function createLogNotifier(log: Logger): Notifier {
  return {
    notify(n) {
      const entry = { notification: n.kind, requestId: n.requestId, grantId: n.grantId, user: n.user, target: n.target, profile: n.profile };
      if (n.kind === 'grant.revoke-failing' || n.kind === 'grant.break-glass') log.error(entry, `ALERT: ${n.message}`);
      else log.info(entry, n.message);
    },
  };
}

export interface WebhookNotifier extends Notifier {
  /** Resolves when every queued delivery has finished (tests, shutdown). */
  flush(): Promise<void>;
}

export function createWebhookNotifier(opts: {
  hooks: readonly WebhookSettings[];
  env: NodeJS.ProcessEnv;
  log: Logger;
  attempts?: number;
  timeoutMs?: number;
  backoffMs?: number;
}): WebhookNotifier {
  const attempts = opts.attempts ?? 4;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const backoffMs = opts.backoffMs ?? 500;
  const pending = new Set<Promise<void>>();
  const hooks = opts.hooks.map((h) => {
    const secret = h.secretEnv ? opts.env[h.secretEnv] : undefined;
    if (h.secretEnv && !secret) throw new Error(`webhook ${new URL(h.url).host}: environment variable ${h.secretEnv} is not set`);
    return { ...h, secret };
  });

  async function deliver(hook: (typeof hooks)[number], n: Notification): Promise<void> {
    const body = JSON.stringify({ ...n, at: new Date(n.at).toISOString(), source: 'stint' });
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'stint-webhook' };
    if (hook.secret) headers['x-stint-signature'] = `sha256=${createHmac('sha256', hook.secret).update(body).digest('hex')}`;
    const fail = (why: string) => opts.log.error({ webhook: new URL(hook.url).host, notification: n.kind, error: why }, 'webhook delivery failed');
    for (let attempt = 1; ; attempt++) {
      let problem: string;
      try {
        const res = await fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
        if (res.ok) return;
        problem = `receiver answered ${res.status}`;
        // A 4xx other than 429 will not get better by retrying.
        if (res.status < 500 && res.status !== 429) return fail(problem);
      } catch (err) {
        problem = safeErrorText(err, [hook.secret]);
      }
      if (attempt >= attempts) return fail(`${problem} (after ${attempts} attempts)`);
      await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
    }
  }

  return {
    notify(n) {
      for (const hook of hooks) {
        if (hook.events && !hook.events.includes(n.kind)) continue;
        const p: Promise<void> = deliver(hook, n).finally(() => pending.delete(p));
        pending.add(p);
      }
    },
    async flush() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}

/** Sends every notification to each notifier. */
export function fanOut(...notifiers: Notifier[]): Notifier {
  return { notify: (n) => notifiers.forEach((x) => x.notify(n)) };
}
