// Email over SMTP with nodemailer: one message per recipient row, plain text
// and HTML. STARTTLS is required (not opportunistic) unless the config says
// tls (TLS from the first byte) or none (plain, loopback only). The SMTP
// password comes from the environment or a 0600 file and is scrubbed from
// every error text.

import nodemailer from 'nodemailer';
import type { EmailSettings } from '../config/notifications.js';
import type { OutboxRecord } from '../core/notify/notification.js';
import { safeErrorText } from '../core/scrub.js';
import { DeliveryError, type Channel } from './channel.js';
import { html, render } from './render.js';

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

export function emailMessage(row: OutboxRecord, webUrl: string | null): EmailMessage {
  const r = render(row.notification, row.audience, webUrl);
  const text = [r.title, '', ...r.facts.map(([k, v]) => `${k}: ${v}`), ...(r.link ? ['', `${r.link.label}: ${r.link.url}`] : []), '', '-- Stint'].join('\n');
  const rows = r.facts.map(([k, v]) => `<tr><th align="left">${html(k)}</th><td>${html(v)}</td></tr>`).join('');
  const link = r.link ? `<p><a href="${html(r.link.url)}">${html(r.link.label)}</a></p>` : '';
  return {
    subject: `[Stint] ${r.title}`,
    text,
    html: `<!doctype html><html><body><p><strong>${html(r.title)}</strong></p><table>${rows}</table>${link}<p>-- Stint</p></body></html>`,
  };
}

export function createEmailChannel(opts: { settings: EmailSettings; password: string | null; webUrl: string | null }): Channel {
  const s = opts.settings;
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.security === 'tls',
    requireTLS: s.security === 'starttls',
    ignoreTLS: s.security === 'none',
    ...(s.auth && opts.password !== null ? { auth: { user: s.auth.user, pass: opts.password } } : {}),
    pool: true,
    maxConnections: 4,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    name: 'email',
    type: 'email',
    routing: s,
    async send(row) {
      if (!row.recipient) throw new DeliveryError('no recipient address', true);
      const m = emailMessage(row, opts.webUrl);
      try {
        const info = await transport.sendMail({ from: s.from, to: row.recipient, subject: m.subject, text: m.text, html: m.html });
        if (info.rejected.length > 0) throw new DeliveryError(`the server refused the recipient`, true);
      } catch (err) {
        if (err instanceof DeliveryError) throw err;
        const code = (err as { responseCode?: number; code?: string }).responseCode;
        // 5xx for the envelope (the address) is final; anything else (connection, 4xx, auth) may pass later.
        const permanent = code !== undefined && code >= 500 && (err as { code?: string }).code === 'EENVELOPE';
        throw new DeliveryError(safeErrorText(err, [opts.password]), permanent);
      }
    },
    async close() {
      transport.close();
    },
  };
}
