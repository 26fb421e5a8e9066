// The SIEM sinks the config asks for (broker.auditExport).

import type { AuditSink } from '../core/audit/export-worker.js';
import type { BrokerSettings } from '../config/load.js';
import { createJsonlSink } from './jsonl-sink.js';
import { createSyslogSink } from './syslog-sink.js';

export function auditSinks(x: NonNullable<BrokerSettings['auditExport']>): AuditSink[] {
  const sinks: AuditSink[] = [];
  if (x.syslog)
    sinks.push(
      createSyslogSink({
        host: x.syslog.host,
        port: x.syslog.port,
        tls: x.syslog.tls ? { ca: x.syslog.tls.ca, servername: x.syslog.tls.serverName } : undefined,
      }),
    );
  if (x.file) sinks.push(createJsonlSink(x.file));
  return sinks;
}
