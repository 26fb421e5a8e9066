// Secrets for ephemeral accounts, chosen by the broker a little ahead of need.
// Each one is handed to its target's connector (prepareSecret) when it enters
// the pool, so that the expensive part of using it — for PostgreSQL, the SCRAM
// verifier, a few thousand HMAC rounds — is done on the thread pool before a
// request needs it, instead of while the request waits. The pool holds only
// secrets no grant has yet; a secret leaves it exactly once, into one grant's
// sealed record, and a broker that stops simply forgets the rest.

import { generateSecret } from './naming.js';

export interface SecretPool {
  /** A secret for a new account on `target`: prepared ahead when the pool has one, otherwise fresh. */
  take(target: string): string;
}

export interface SecretPoolOptions {
  /** Secrets kept ready per target. */
  size: number;
  /** Hands `secret` to the target's connector; false when it has nothing to prepare (then the target gets no pool). */
  prepare(target: string, secret: string): boolean;
  generate?: () => string;
}

export function createSecretPool(opts: SecretPoolOptions): SecretPool {
  const generate = opts.generate ?? generateSecret;
  const pools = new Map<string, string[]>();
  const unprepared = new Set<string>();
  const filling = new Set<string>();

  function fill(target: string): void {
    filling.delete(target);
    const pool = pools.get(target) ?? [];
    pools.set(target, pool);
    while (pool.length < opts.size) {
      const secret = generate();
      let ok: boolean;
      try {
        ok = opts.prepare(target, secret);
      } catch {
        ok = false;
      }
      if (!ok) {
        unprepared.add(target);
        return;
      }
      pool.push(secret);
    }
  }

  return {
    take(target) {
      if (unprepared.has(target)) return generate();
      const pool = pools.get(target);
      const secret = pool?.shift();
      // Topped up after this request has gone on its way, not in its path, and
      // in batches (once half is used), so a connector can prepare several at once.
      if (!filling.has(target) && (pool?.length ?? 0) <= opts.size / 2) {
        filling.add(target);
        setImmediate(() => fill(target));
      }
      return secret ?? generate();
    },
  };
}
