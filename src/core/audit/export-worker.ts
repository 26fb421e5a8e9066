// SIEM export: audit events leave the broker as they are appended, at least
// once, in order. The position (the last seq a sink confirmed) is kept in
// the store (meta `audit.export.<sink>`), so a restarted broker carries on
// where the receiver last confirmed; events sent but not confirmed are sent
// again, and the receiver tells such duplicates by their seq (each event
// carries its seq and hash, so it can also check the chain).

import type { Logger, Store } from '../ports.js';
import { safeErrorText } from '../scrub.js';
import type { AuditEvent } from '../types.js';

/** Where events go (src/export/): `send` resolves once the receiver has them all. */
export interface AuditSink {
  readonly name: string;
  send(events: readonly AuditEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface ExportWorker {
  start(): void;
  stop(): Promise<void>;
  /** Resolves once every event appended so far has been confirmed by every sink (tests, bench). */
  drained(): Promise<void>;
}

export const exportPositionKey = (sink: string) => `audit.export.${sink}`;

export function createExportWorker(deps: {
  store: Pick<Store, 'listAudit' | 'getMeta' | 'setMeta' | 'auditHead'>;
  sinks: readonly AuditSink[];
  log: Logger;
  batch?: number;
  pollMs?: number;
  retryMs?: number;
}): ExportWorker {
  const batch = deps.batch ?? 1000;
  const pollMs = deps.pollMs ?? 500;
  const retryMs = deps.retryMs ?? 1000;
  let stopped = true;
  let loops: Promise<void>[] = [];
  let wake: (() => void) | null = null;
  const positions = new Map<string, number>();
  const pause = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      t.unref();
      wake = () => {
        clearTimeout(t);
        r();
      };
    });

  async function run(sink: AuditSink): Promise<void> {
    let failing = false;
    while (!stopped) {
      try {
        const at = Number((await deps.store.getMeta(exportPositionKey(sink.name))) ?? '0');
        positions.set(sink.name, at);
        const events = await deps.store.listAudit({ afterSeq: at, limit: batch });
        if (events.length === 0) {
          await pause(pollMs);
          continue;
        }
        await sink.send(events);
        const last = events[events.length - 1]!.seq;
        await deps.store.setMeta(exportPositionKey(sink.name), String(last));
        positions.set(sink.name, last);
        if (failing) deps.log.info({ sink: sink.name, seq: last }, 'audit export: delivering again');
        failing = false;
      } catch (err) {
        if (!failing) deps.log.warn({ sink: sink.name, error: safeErrorText(err) }, 'audit export failed; retrying from the last confirmed event');
        failing = true;
        await pause(retryMs);
      }
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loops = deps.sinks.map((s) => run(s));
    },
    async stop() {
      stopped = true;
      wake?.();
      await Promise.all(loops);
      await Promise.all(deps.sinks.map((s) => s.close().catch(() => {})));
    },
    async drained() {
      const head = (await deps.store.auditHead())?.seq ?? 0;
      while (deps.sinks.some((s) => (positions.get(s.name) ?? 0) < head)) await new Promise((r) => setTimeout(r, 20));
    },
  };
}
