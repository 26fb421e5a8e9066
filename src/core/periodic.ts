// A background job that runs every interval, one run at a time; a run that
// fails is logged and the next one comes anyway. Its timer never keeps the
// process alive on its own, and stop() waits for a run under way.

import type { Logger } from './ports.js';
import { safeErrorText } from './scrub.js';

export interface PeriodicWorker {
  start(): void;
  stop(): Promise<void>;
}

export function createPeriodicWorker(deps: {
  name: string;
  run: () => Promise<unknown>;
  log: Logger;
  intervalMs: number;
  initialDelayMs?: number;
}): PeriodicWorker {
  let timer: NodeJS.Timeout | null = null;
  let stopped = true;
  let active: Promise<unknown> | null = null;

  function schedule(delay: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      active = deps
        .run()
        .catch((err: unknown) => deps.log.error({ error: safeErrorText(err) }, `${deps.name} failed; will retry`))
        .finally(() => {
          active = null;
          schedule(deps.intervalMs);
        });
    }, delay);
    timer.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(deps.initialDelayMs ?? deps.intervalMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await active;
    },
  };
}
