// Notifications (approvals needed, grants active/revoked, revocations
// failing). The log notifier always runs; webhooks plug in here.

import type { Logger, Notifier } from './core/ports.js';

export function createLogNotifier(log: Logger): Notifier {
  return {
    notify(n) {
      const entry = { notification: n.kind, requestId: n.requestId, grantId: n.grantId, user: n.user, target: n.target, profile: n.profile };
      if (n.kind === 'grant.revoke-failing') log.error(entry, `ALERT: ${n.message}`);
      else log.info(entry, n.message);
    },
  };
}
