// Audit events to a syslog receiver: RFC 5424 messages, octet-counted
// (RFC 6587) over TCP or TLS. Plain syslog has no acknowledgement, so each
// batch goes over its own connection that Stint closes after the last
// message: the receiver closing its side in turn means it read everything
// (a FIN after the data), and only then is the batch confirmed. A receiver
// that dies meanwhile leaves the batch unconfirmed, and it is sent again.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import net from 'node:net';
import tls from 'node:tls';
import { canonicalJson } from '../core/audit/chain.js';
import type { AuditSink } from '../core/audit/export-worker.js';
import type { AuditEvent } from '../core/types.js';

export interface SyslogSinkOptions {
  host: string;
  port: number;
  /** TLS: the CA file that signed the receiver's certificate (and the name it must carry). */
  tls?: { ca: string; servername?: string };
  appName?: string;
  timeoutMs?: number;
}

/** facility 13 (log audit), severity 6 (informational). */
const pri = 13 * 8 + 6;
/** RFC 5424 printable US-ASCII without space, at most `max` characters (for HOSTNAME, APP-NAME). */
const header = (s: string, max: number) => s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';
/** SD-PARAM values escape ", \ and ]. */
const sdValue = (s: string) => s.replace(/["\\\]]/g, (c) => `\\${c}`);

/** One message: `<110>1 TIME HOST stint - ACTION [stint@32473 seq="N" hash="H"] {event JSON}`. */
export function syslogMessage(e: AuditEvent, host: string, app: string): string {
  const sd = `[stint@32473 seq="${e.seq}" hash="${sdValue(e.hash)}"]`;
  const line = `<${pri}>1 ${new Date(e.at).toISOString()} ${header(host, 255)} ${header(app, 48)} - ${header(e.action, 32)} ${sd} ${canonicalJson(e)}`;
  return `${Buffer.byteLength(line)} ${line}`;
}

export function createSyslogSink(o: SyslogSinkOptions): AuditSink {
  const host = hostname();
  const app = o.appName ?? 'stint';
  const timeoutMs = o.timeoutMs ?? 30_000;
  const ca = o.tls ? readFileSync(o.tls.ca) : null;
  return {
    name: `syslog-${o.host}-${o.port}`,
    async send(events) {
      const socket = ca
        ? tls.connect({ host: o.host, port: o.port, ca, servername: o.tls?.servername ?? o.host, minVersion: 'TLSv1.2' })
        : net.connect({ host: o.host, port: o.port });
      socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`syslog receiver ${o.host}:${o.port} did not answer within ${timeoutMs} ms`)));
      // Not events.once: that would reject on 'error' with nobody listening yet.
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      let failure: Error | null = null;
      socket.on('error', (err) => (failure ??= err));
      socket.on('data', () => {});
      try {
        await once(socket, ca ? 'secureConnect' : 'connect');
        for (let i = 0; i < events.length; i += 200) {
          if (
            !socket.write(
              events
                .slice(i, i + 200)
                .map((e) => syslogMessage(e, host, app))
                .join(''),
            )
          )
            await once(socket, 'drain');
        }
        socket.end();
        await closed;
      } catch (err) {
        socket.destroy();
        throw failure ?? err;
      }
      if (failure) throw failure;
    },
    close: async () => {},
  };
}
