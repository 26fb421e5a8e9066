// The store's part of expiry warnings (notifications.warnBefore): the holder
// is told once per grant end, even with several brokers sharing the store.

import type { GrantRecord } from '../types.js';

export interface ExpiryWarningStoreTx {
  /** Active grants ending in (now, until] whose current end nobody was warned of yet; soonest first. */
  listGrantsToWarn(now: number, until: number, limit: number): Promise<GrantRecord[]>;
  /** Claims the warning of this grant end; true for exactly one caller, however many race (it then notifies in the same transaction). */
  recordExpiryWarning(grantId: string, expiresAt: number, at: number): Promise<boolean>;
}
