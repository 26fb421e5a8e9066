// A real SMTP server on loopback (smtp-server) that keeps what it accepts,
// for tests and the bench: stop() and start() again on the same port stand in
// for a mail server that is down for a while.

import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

export interface Mail {
  to: string[];
  from: string;
  raw: string;
  /** Decoded: the Subject header, and the text/plain and text/html parts. */
  subject: string;
  text: string;
  html: string;
  acceptedAt: number;
}

function decodeQp(s: string): string {
  const bytes: number[] = [];
  const body = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '=' && /^[0-9A-F]{2}$/i.test(body.slice(i + 1, i + 3))) {
      bytes.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(body[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodePart(part: string): { type: string; body: string } {
  const [head, ...rest] = part.split(/\r?\n\r?\n/);
  const body = rest.join('\r\n\r\n').replace(/\r?\n$/, '');
  const type = /content-type:\s*([^;\s]+)/i.exec(head!)?.[1]?.toLowerCase() ?? '';
  const enc = /content-transfer-encoding:\s*(\S+)/i.exec(head!)?.[1]?.toLowerCase();
  if (enc === 'quoted-printable') return { type, body: decodeQp(body) };
  if (enc === 'base64') return { type, body: Buffer.from(body, 'base64').toString('utf8') };
  return { type, body };
}

function decodeSubject(raw: string): string {
  const line = /^Subject: (.*(?:\r?\n[ \t].*)*)/im.exec(raw)?.[1] ?? '';
  return line
    .replace(/\r?\n[ \t]/g, ' ')
    .replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi, (_m, enc: string, t: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(t, 'base64').toString('utf8') : decodeQp(t.replace(/_/g, ' ')),
    )
    .trim();
}

export function parseMail(raw: string): Pick<Mail, 'subject' | 'text' | 'html'> {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1];
  const parts = boundary ? raw.split(`--${boundary}`).slice(1, -1).map(decodePart) : [decodePart(raw)];
  return {
    subject: decodeSubject(raw),
    text: parts.find((p) => p.type === 'text/plain')?.body.replace(/\r\n/g, '\n') ?? '',
    html: parts.find((p) => p.type === 'text/html')?.body ?? '',
  };
}

export async function startSmtpSink(port = 0) {
  const mails: Mail[] = [];
  let server: SMTPServer | null = null;
  let boundPort = port;
  async function start() {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      // A pooled client keeps its connection open; a stop must not wait the default 30 s for it.
      closeTimeout: 200,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          mails.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            raw,
            ...parseMail(raw),
            acceptedAt: Date.now(),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(boundPort, '127.0.0.1', () => resolve());
    });
    boundPort = (server.server.address() as AddressInfo).port;
  }
  await start();
  return {
    mails,
    get port() {
      return boundPort;
    },
    /** Mail to this address, in the order accepted. */
    inbox: (address: string) => mails.filter((m) => m.to.includes(address)),
    start,
    async stop() {
      const s = server;
      server = null;
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

export type SmtpSink = Awaited<ReturnType<typeof startSmtpSink>>;
