// Slack incoming webhooks (Block Kit) and Microsoft Teams workflow webhooks
// (an Adaptive Card in a message attachment). People's text goes only into
// Slack plain_text objects (no mrkdwn: `*x*`, `<!channel>` and `<url|x>` show
// as written, with & < > escaped as Slack requires) and into Teams TextBlocks
// with their Markdown punctuation escaped. The only link is the request's
// page in the web UI; nothing in a message changes anything.

import type { ChatSettings } from '../config/notifications.js';
import type { OutboxRecord } from '../core/notify/notification.js';
import { postJson, type Channel } from './channel.js';
import { render, slackText, teamsText } from './render.js';

export function slackPayload(row: OutboxRecord, webUrl: string | null): object {
  const r = render(row.notification, null, webUrl);
  const plain = (text: string) => ({ type: 'plain_text', text: slackText(text), emoji: false });
  const blocks: object[] = [
    { type: 'header', text: plain(r.title) },
    { type: 'section', fields: r.facts.map(([label, value]) => plain(`${label}: ${value}`)) },
  ];
  // The URL is built from the configured webUrl and a request id; escaped all the same.
  if (r.link) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${slackText(r.link.url).replace(/\|/g, '%7C')}|${slackText(r.link.label)}>` } });
  return { text: slackText(r.title), blocks };
}

export function teamsPayload(row: OutboxRecord, webUrl: string | null): object {
  const r = render(row.notification, null, webUrl);
  const card = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body: [
      { type: 'TextBlock', text: teamsText(r.title), weight: 'Bolder', size: 'Medium', wrap: true },
      { type: 'FactSet', facts: r.facts.map(([title, value]) => ({ title: teamsText(title), value: teamsText(value) })) },
    ],
    ...(r.link ? { actions: [{ type: 'Action.OpenUrl', title: r.link.label, url: r.link.url }] } : {}),
  };
  return { type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }] };
}

export function createChatChannel(opts: { type: 'slack' | 'teams'; settings: ChatSettings; url: string; webUrl: string | null; timeoutMs?: number }): Channel {
  const payload = opts.type === 'slack' ? slackPayload : teamsPayload;
  return {
    name: `${opts.type}:${opts.settings.name}`,
    type: opts.type,
    routing: opts.settings,
    async send(row) {
      // The URL is a secret (it is the credential): scrubbed from any error text.
      await postJson(opts.url, JSON.stringify(payload(row, opts.webUrl)), { timeoutMs: opts.timeoutMs ?? 5000, secrets: [opts.url] });
    },
    async close() {},
  };
}
