// Reading and verifying the audit trail. Writing happens inside the services
// that change state, in the same transaction (StoreTx.appendAudit).

import { readsEverything } from '../identity/roles.js';
import { conflict, forbidden } from '../errors.js';
import type { AuditFilter, Store } from '../ports.js';
import type { AuditEvent, UserDef } from '../types.js';
import { ChainVerifier, hashEvent, type Checkpoint, type VerifyResult } from './chain.js';

const pageSize = 1000;
/** Different checkpoints that may wait for the next verification; more are refused until it has run. */
export const maxWaitingCheckpoints = 64;

export function createAuditService(deps: { store: Pick<Store, 'listAudit' | 'auditHead'> }) {
  const { store } = deps;

  /** Admins and auditors read everything; others read the events about themselves. */
  async function list(input: { actor: UserDef; filter: AuditFilter; all?: boolean }): Promise<AuditEvent[]> {
    const filter = { ...input.filter, limit: Math.min(input.filter.limit ?? 500, 5000) };
    if (readsEverything(input.actor)) return store.listAudit(filter);
    if (input.filter.subjectUser && input.filter.subjectUser !== input.actor.name) throw forbidden("only admins may read other users' audit events");
    return store.listAudit({ ...filter, subjectUser: input.actor.name });
  }

  // Any user may verify, and a verification reads the whole chain. Runs go one at a time;
  // all that wait for the next run are checked in one pass (each its own checkpoint), and a
  // request for a checkpoint already waiting or under way shares that one's result.
  interface Waiting {
    checkpoint: Checkpoint | undefined;
    result: Promise<VerifyResult>;
    settle: { resolve(r: VerifyResult): void; reject(err: unknown): void };
  }
  let next = new Map<string, Waiting>();
  let current = new Map<string, Waiting>();
  let running = false;

  /** Walks the whole chain in pages; with a checkpoint, also catches truncation. */
  function verify(checkpoint?: Checkpoint): Promise<VerifyResult> {
    const key = checkpoint ? `${checkpoint.seq}:${checkpoint.hash}` : '';
    const shared = next.get(key) ?? current.get(key);
    if (shared) return shared.result;
    if (next.size >= maxWaitingCheckpoints) {
      return Promise.reject(
        conflict(`${maxWaitingCheckpoints} audit verifications with different checkpoints are waiting already; try again when they are done`),
      );
    }
    let settle!: Waiting['settle'];
    const result = new Promise<VerifyResult>((resolve, reject) => (settle = { resolve, reject }));
    next.set(key, { checkpoint, result, settle });
    // Callers in this turn of the event loop join the same run.
    if (!running) queueMicrotask(runNext);
    return result;
  }

  function runNext(): void {
    if (running || next.size === 0) return;
    running = true;
    current = next;
    next = new Map();
    const batch = [...current.values()];
    pass(batch.map((w) => w.checkpoint))
      .then(
        (results) => batch.forEach((w, i) => w.settle.resolve(results[i]!)),
        (err: unknown) => batch.forEach((w) => w.settle.reject(err)),
      )
      .finally(() => {
        running = false;
        current = new Map();
        runNext();
      });
  }

  /** One read of the chain, each event hashed once, for every checkpoint at once. */
  async function pass(checkpoints: (Checkpoint | undefined)[]): Promise<VerifyResult[]> {
    const verifiers = checkpoints.map((cp) => new ChainVerifier(cp));
    let live = verifiers.length;
    let after = 0;
    for (;;) {
      const page = await store.listAudit({ afterSeq: after, limit: pageSize });
      for (const e of page) {
        const hash = hashEvent(e);
        for (const v of verifiers) if (!v.failed && !v.push(e, hash)) live--;
        if (live === 0) return verifiers.map((v) => v.finish());
      }
      if (page.length < pageSize) break;
      after = page[page.length - 1]!.seq;
    }
    return verifiers.map((v) => v.finish());
  }

  return { list, verify, head: () => store.auditHead() };
}

export type AuditService = ReturnType<typeof createAuditService>;
