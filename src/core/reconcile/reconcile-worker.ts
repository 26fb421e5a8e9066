// Runs reconcile periodically (all targets, acting, as actor `stint`). One
// run at a time; a run that fails is logged and the next one comes anyway.

import type { Logger } from '../ports.js';
import { safeErrorText } from '../scrub.js';
import type { ReconcileReport, ReconcileService } from './reconcile-service.js';

export interface ReconcileWorkerDeps {
  reconcile: Pick<ReconcileService, 'reconcile'>;
  log: Logger;
  /** Time between runs (default 5 minutes). */
  intervalMs?: number;
  /** Time from start to the first run (default: one interval; startup recovery goes first, and short-lived brokers such as tests are left alone). */
  initialDelayMs?: number;
}

export interface ReconcileWorker {
  start(): void;
  stop(): Promise<void>;
  /** One run now (tests). */
  runOnce(): Promise<ReconcileReport>;
}

export function createReconcileWorker(deps: ReconcileWorkerDeps): ReconcileWorker {
  const intervalMs = deps.intervalMs ?? 5 * 60_000;
  const initialDelayMs = deps.initialDelayMs ?? intervalMs;
  let timer: NodeJS.Timeout | null = null;
  let stopped = true;
  let active: Promise<unknown> | null = null;

  const runOnce = () => deps.reconcile.reconcile({ dryRun: false, actor: 'stint' });

  function schedule(delay: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      active = runOnce()
        .then((r) => {
          const problems = r.targets.filter((t) => t.errors.length > 0).map((t) => t.target);
          if (problems.length > 0) deps.log.warn({ targets: problems }, 'reconcile could not finish on some targets; will retry');
        })
        .catch((err: unknown) => deps.log.error({ error: safeErrorText(err) }, 'reconcile run failed; will retry'))
        .finally(() => {
          active = null;
          schedule(intervalMs);
        });
    }, delay);
    // A pending reconcile never keeps the process alive on its own.
    timer.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(initialDelayMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await active;
    },
    runOnce,
  };
}
