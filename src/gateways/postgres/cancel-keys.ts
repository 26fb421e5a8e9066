// Cancel requests: a client cancels a query by opening a new connection and
// sending the process id and secret key it was given at startup. The gateway
// hands out keys of its own (the target's never reach the client) and maps
// them back to the target backend; a request with a wrong secret is ignored.

import { randomInt, timingSafeEqual } from 'node:crypto';
import { cancelUpstream } from './upstream.js';

/** The target backend a gateway key stands for, and where to send its cancel request. */
export interface CancelTarget {
  host: string;
  port: number;
  ssl: boolean;
  processId: number;
  secretKey: number;
}

export interface CancelKeys {
  /** A new key for the client, standing for `target` until forgotten. */
  issue(target: CancelTarget): { processId: number; secretKey: number };
  forget(processId: number): void;
  /** Forwards a client's cancel request to the target when the key is one the gateway issued. */
  cancel(processId: number, secretKey: number): void;
}

export function createCancelKeys(): CancelKeys {
  const keys = new Map<number, { secretKey: number; target: CancelTarget }>();
  return {
    issue(target) {
      let processId: number;
      do processId = randomInt(1, 2 ** 31 - 1);
      while (keys.has(processId));
      const secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
      keys.set(processId, { secretKey, target });
      return { processId, secretKey };
    },
    forget(processId) {
      keys.delete(processId);
    },
    cancel(processId, secretKey) {
      const k = keys.get(processId);
      if (!k) return;
      const a = Buffer.alloc(4);
      const b = Buffer.alloc(4);
      a.writeInt32BE(k.secretKey);
      b.writeInt32BE(secretKey);
      if (!timingSafeEqual(a, b)) return;
      cancelUpstream(k.target);
    },
  };
}
