// Cancel requests: a client cancels a query by opening a new connection and
// sending the process id and secret key it was given at startup. The client
// sees the target backend's real process id (pg_backend_pid(), notifications
// and pg_stat_activity agree with it) and a secret key of the gateway's own:
// the target's secret never reaches the client, and a request with a wrong
// secret is ignored.

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
  /** The key for the client (the backend's process id, a new secret), standing for `target` until forgotten. */
  issue(target: CancelTarget): { processId: number; secretKey: number };
  forget(key: { processId: number; secretKey: number }): void;
  /** Forwards a client's cancel request to the target when the key is one the gateway issued. */
  cancel(processId: number, secretKey: number): void;
}

function sameSecret(x: number, y: number): boolean {
  const a = Buffer.alloc(4);
  const b = Buffer.alloc(4);
  a.writeInt32BE(x);
  b.writeInt32BE(y);
  return timingSafeEqual(a, b);
}

/** `send` forwards a cancel request to the target (tests watch it). */
export function createCancelKeys(send: (target: CancelTarget) => void = cancelUpstream): CancelKeys {
  // Per process id a list: backends of different targets (or servers) may share a process id.
  const keys = new Map<number, { secretKey: number; target: CancelTarget }[]>();
  return {
    issue(target) {
      const list = keys.get(target.processId) ?? [];
      let secretKey: number;
      do secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
      while (list.some((k) => k.secretKey === secretKey));
      list.push({ secretKey, target });
      keys.set(target.processId, list);
      return { processId: target.processId, secretKey };
    },
    forget({ processId, secretKey }) {
      const list = keys.get(processId)?.filter((k) => k.secretKey !== secretKey);
      if (list?.length) keys.set(processId, list);
      else keys.delete(processId);
    },
    cancel(processId, secretKey) {
      // Every entry is compared, so the time taken does not say which secret came close.
      let hit: CancelTarget | null = null;
      for (const k of keys.get(processId) ?? []) if (sameSecret(k.secretKey, secretKey)) hit = k.target;
      if (hit) send(hit);
    },
  };
}
