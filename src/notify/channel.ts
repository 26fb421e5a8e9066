// A channel sends one outbox row (notify/delivery-worker.ts calls it). It
// throws DeliveryError when the receiver refused or could not be reached;
// `permanent` says retrying cannot help (a 4xx other than 408/429, a
// rejected recipient), so the row is marked failed at once.

import type { Routing } from '../config/notifications.js';
import type { Notification, OutboxRecord } from '../core/notify/notification.js';
import { safeErrorText } from '../core/scrub.js';

export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export interface Channel {
  /** Unique among channels; stored in each row (email, slack:NAME, teams:NAME, webhook:N). */
  readonly name: string;
  readonly type: 'email' | 'slack' | 'teams' | 'webhook';
  readonly routing: Routing;
  send(row: OutboxRecord): Promise<void>;
  close(): Promise<void>;
}

/** Whether a channel with this routing takes the notification. */
export function routes(r: Routing, n: Notification): boolean {
  if (r.events && !r.events.includes(n.kind)) return false;
  if (r.profiles && !(n.profile !== undefined && r.profiles.includes(n.profile))) return false;
  if (r.targets && !(n.target !== undefined && r.targets.includes(n.target))) return false;
  if (r.policies && !(n.policy !== undefined && r.policies.includes(n.policy))) return false;
  return true;
}

/** POSTs JSON; a 2xx is delivered. `secrets` are scrubbed from any error text. */
export async function postJson(
  url: string,
  body: string,
  opts: { headers?: Record<string, string>; timeoutMs: number; secrets: (string | null)[] },
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'stint-notify', ...opts.headers },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw new DeliveryError(safeErrorText(err, [...opts.secrets, url]), false);
  }
  await res.body?.cancel();
  if (res.ok) return;
  // A 4xx other than timeout and rate limit will not get better by retrying.
  throw new DeliveryError(`receiver answered ${res.status}`, res.status < 500 && res.status !== 408 && res.status !== 429);
}
