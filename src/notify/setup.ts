// Builds the notification channels from the config (reading their secrets)
// and the outbox notifier and delivery worker app.ts wires in.

import type { LoadedConfig } from '../config/load.js';
import type { SecretSource } from '../config/notifications.js';
import { defaultDelivery } from '../config/notifications.js';
import { readPrivateFile } from '../config/secrets.js';
import { invalid } from '../core/errors.js';
import type { Faults } from '../core/faults.js';
import type { Clock, Logger, Notifier, Store, Telemetry } from '../core/ports.js';
import type { Catalog } from '../core/types.js';
import type { Channel } from './channel.js';
import { createChatChannel } from './chat.js';
import { createDeliveryWorker, type DeliveryWorker } from './delivery-worker.js';
import { createEmailChannel } from './email.js';
import { createOutboxNotifier } from './outbox-notifier.js';
import { createWebhookChannel } from './webhook.js';

async function readSecret(what: string, source: SecretSource, env: NodeJS.ProcessEnv): Promise<string> {
  if ('file' in source) return readPrivateFile(`${what} file ${source.file}`, source.file);
  const v = env[source.env];
  if (!v) throw invalid(`${what}: environment variable ${source.env} is ${v === undefined ? 'not set' : 'empty'}`);
  return v;
}

export async function buildChannels(config: Pick<LoadedConfig, 'broker' | 'notifications'>, env: NodeJS.ProcessEnv): Promise<Channel[]> {
  const n = config.notifications ?? null;
  const webUrl = n?.webUrl ?? null;
  const channels: Channel[] = config.broker.webhooks.map((hook, index) => createWebhookChannel({ index, hook, env }));
  if (n?.email) {
    const password = n.email.auth ? await readSecret('SMTP password (notifications.email)', n.email.auth.password, env) : null;
    channels.push(createEmailChannel({ settings: n.email, password, webUrl }));
  }
  for (const type of ['slack', 'teams'] as const) {
    for (const settings of n?.[type] ?? []) {
      const url = await readSecret(`${type} webhook URL (notifications.${type} ${settings.name})`, settings.url, env);
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
        throw invalid(`${type} webhook URL (notifications.${type} ${settings.name}) is not an http(s) URL`);
      channels.push(createChatChannel({ type, settings, url, webUrl }));
    }
  }
  const names = channels.map((c) => c.name);
  const twice = names.find((x, i) => names.indexOf(x) !== i);
  if (twice) throw invalid(`notifications: two channels are named ${twice}`);
  return channels;
}

export async function createNotifications(deps: {
  config: Pick<LoadedConfig, 'broker' | 'notifications'>;
  env: NodeJS.ProcessEnv;
  store: Store;
  catalog: () => Catalog;
  clock: Clock;
  log: Logger;
  telemetry: Telemetry;
  faults?: Faults;
  /** Names this broker as the holder of the rows it is sending (the id `stint brokers` shows); a restarted broker is a new holder. */
  brokerId: string;
}): Promise<{ notifier: Notifier; delivery: DeliveryWorker; brokerId: string }> {
  const channels = await buildChannels(deps.config, deps.env);
  const { brokerId } = deps;
  const n = deps.config.notifications;
  const delivery = createDeliveryWorker({
    store: deps.store,
    channels,
    brokerId,
    clock: deps.clock,
    log: deps.log,
    telemetry: deps.telemetry,
    faults: deps.faults,
    settings: n ?? defaultDelivery,
  });
  const notifier = createOutboxNotifier({ channels, catalog: deps.catalog, log: deps.log, now: deps.clock.now, wake: delivery.wake });
  return { notifier, delivery, brokerId };
}
