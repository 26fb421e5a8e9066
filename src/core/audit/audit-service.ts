// Reading and verifying the audit trail. Writing happens inside the services
// that change state, in the same transaction (StoreTx.appendAudit).

import { forbidden } from '../errors.js';
import type { AuditFilter, Store } from '../ports.js';
import type { AuditEvent, UserDef } from '../types.js';
import { ChainVerifier, type Checkpoint, type VerifyResult } from './chain.js';

const pageSize = 1000;

export function createAuditService(deps: { store: Pick<Store, 'listAudit' | 'auditHead'> }) {
  const { store } = deps;

  /** Admins read everything; others read the events about themselves. */
  async function list(input: { actor: UserDef; filter: AuditFilter; all?: boolean }): Promise<AuditEvent[]> {
    const filter = { ...input.filter, limit: Math.min(input.filter.limit ?? 500, 5000) };
    if (input.actor.admin) return store.listAudit(filter);
    if (input.filter.subjectUser && input.filter.subjectUser !== input.actor.name) throw forbidden('only admins may read other users\' audit events');
    return store.listAudit({ ...filter, subjectUser: input.actor.name });
  }

  // Any user may verify, and a run reads the whole chain: runs go one at a time, and a
  // request for a run already waiting or under way (the same checkpoint) shares its result.
  let queue: Promise<unknown> = Promise.resolve();
  const pending = new Map<string, Promise<VerifyResult>>();

  /** Walks the whole chain in pages; with a checkpoint, also catches truncation. */
  function verify(checkpoint?: Checkpoint): Promise<VerifyResult> {
    const key = checkpoint ? `${checkpoint.seq}:${checkpoint.hash}` : '';
    const shared = pending.get(key);
    if (shared) return shared;
    const run = queue.then(() => verifyNow(checkpoint));
    queue = run.then(
      () => undefined,
      () => undefined,
    );
    pending.set(key, run);
    const done = () => {
      if (pending.get(key) === run) pending.delete(key);
    };
    run.then(done, done);
    return run;
  }

  async function verifyNow(checkpoint?: Checkpoint): Promise<VerifyResult> {
    const v = new ChainVerifier(checkpoint);
    let after = 0;
    for (;;) {
      const page = await store.listAudit({ afterSeq: after, limit: pageSize });
      for (const e of page) if (!v.push(e)) return v.finish();
      if (page.length < pageSize) break;
      after = page[page.length - 1]!.seq;
    }
    return v.finish();
  }

  return { list, verify, head: () => store.auditHead() };
}

export type AuditService = ReturnType<typeof createAuditService>;
