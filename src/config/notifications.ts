// The `notifications:` section as the broker uses it (schema in
// notifications-schema.ts; fields documented in docs/config.md).

import { resolve } from 'node:path';
import type { NotificationKind } from '../core/notify/notification.js';
import type { ChatConfig, NotificationsConfig } from './notifications-schema.js';

export interface Routing {
  /** null: every kind (or profile, target, policy). */
  events: NotificationKind[] | null;
  profiles: string[] | null;
  targets: string[] | null;
  policies: string[] | null;
}

export type SecretSource = { env: string } | { file: string };

export interface EmailSettings extends Routing {
  host: string;
  port: number;
  security: 'starttls' | 'tls' | 'none';
  auth: { user: string; password: SecretSource } | null;
  from: string;
}

export interface ChatSettings extends Routing {
  name: string;
  url: SecretSource;
}

export interface NotificationSettings {
  /** The web UI's address, no trailing slash. */
  webUrl: string;
  retryInitialMs: number;
  retryMaxMs: number;
  /** A row still failing this long after it was written is marked failed and no longer retried. */
  giveUpAfterMs: number;
  /** How long a broker holds a row it is sending before another may take it. */
  leaseMs: number;
  email: EmailSettings | null;
  slack: ChatSettings[];
  teams: ChatSettings[];
}

export const defaultDelivery = { retryInitialMs: 1000, retryMaxMs: 5 * 60_000, giveUpAfterMs: 24 * 3_600_000, leaseMs: 60_000 };

function routing(r: { events?: string[]; profiles?: string[]; targets?: string[]; policies?: string[] }): Routing {
  return {
    events: (r.events as NotificationKind[] | undefined) ?? null,
    profiles: r.profiles ?? null,
    targets: r.targets ?? null,
    policies: r.policies ?? null,
  };
}

function chat(c: ChatConfig, baseDir: string): ChatSettings {
  return { name: c.name, url: c.urlEnv !== undefined ? { env: c.urlEnv } : { file: resolve(baseDir, c.urlFile!) }, ...routing(c) };
}

export function toNotificationSettings(n: NotificationsConfig | undefined, baseDir: string): NotificationSettings | null {
  if (!n) return null;
  const e = n.email;
  const security = e?.security ?? 'starttls';
  return {
    webUrl: n.webUrl.replace(/\/+$/, ''),
    retryInitialMs: n.delivery?.retryInitial ?? defaultDelivery.retryInitialMs,
    retryMaxMs: n.delivery?.retryMax ?? Math.max(defaultDelivery.retryMaxMs, n.delivery?.retryInitial ?? 0),
    giveUpAfterMs: n.delivery?.giveUpAfter ?? defaultDelivery.giveUpAfterMs,
    leaseMs: n.delivery?.lease ?? defaultDelivery.leaseMs,
    email: e
      ? {
          host: e.host,
          port: e.port ?? (security === 'tls' ? 465 : security === 'starttls' ? 587 : 25),
          security,
          auth: e.user ? { user: e.user, password: e.passwordEnv !== undefined ? { env: e.passwordEnv } : { file: resolve(baseDir, e.passwordFile!) } } : null,
          from: e.from,
          ...routing(e),
        }
      : null,
    slack: (n.slack ?? []).map((c) => chat(c, baseDir)),
    teams: (n.teams ?? []).map((c) => chat(c, baseDir)),
  };
}
