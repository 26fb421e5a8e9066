// Asks the identity provider about sign-ins due for a re-check, every
// `intervalMs`; one pass at a time, a failed pass is logged and the next comes.

import type { Logger } from '../ports.js';
import { safeErrorText } from '../scrub.js';
import type { SignInService } from './signin-service.js';

export function createRecheckWorker(deps: { signIns: Pick<SignInService, 'recheckDue'>; log: Logger; intervalMs: number }) {
  let timer: NodeJS.Timeout | null = null;
  let active: Promise<unknown> | null = null;

  const pass = async () => {
    // Work through a backlog in pages; a full page means more may be due.
    while ((await deps.signIns.recheckDue(200)) === 200);
  };

  return {
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (active) return;
        active = pass()
          .catch((err: unknown) => deps.log.error({ error: safeErrorText(err) }, 'sign-in re-check failed; will retry'))
          .finally(() => (active = null));
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await active;
    },
    /** One pass now (tests). */
    runOnce: pass,
  };
}
