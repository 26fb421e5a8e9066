// Reviews of break-glass activations. A break-glass grant is "unreviewed"
// until someone other than its holder records a review: an admin or an
// auditor (a review attests, it changes no access; the one thing an auditor
// writes). The holder never reviews their own. Recorded once, with its audit
// event in the same transaction.

import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { readsEverything } from '../identity/roles.js';
import type { Clock, Store } from '../ports.js';
import type { BreakGlassRecord, UserDef } from '../types.js';

export function createBreakGlassReviews(deps: { store: Pick<Store, 'transaction' | 'getBreakGlass' | 'getGrant' | 'listBreakGlass'>; clock: Clock }) {
  const { store, clock } = deps;

  /** Admins and auditors may review; the holder never. */
  function mayReview(b: BreakGlassRecord, actor: UserDef): void {
    if (b.user === actor.name) throw forbidden(`you cannot review your own break-glass activation; someone else records the review of grant ${b.grantId}`);
    if (!readsEverything(actor)) throw forbidden('break-glass activations are reviewed by admins and auditors');
  }

  async function review(input: { actor: UserDef; grantId: string; comment: string }): Promise<BreakGlassRecord> {
    const comment = input.comment.trim();
    if (!comment) throw invalid('a review needs a comment: what was done with the access and whether it was justified');
    const b = await store.getBreakGlass(input.grantId);
    if (!b) {
      // A grant that exists but was approved the usual way has nothing to review; to those who cannot see it, it is not there.
      const g = await store.getGrant(input.grantId);
      if (g && (g.user === input.actor.name || readsEverything(input.actor)))
        throw conflict(`grant ${g.id} was not a break-glass activation; there is nothing to review`);
      throw notFound(`grant ${input.grantId} not found`);
    }
    if (b.user !== input.actor.name && !readsEverything(input.actor)) throw notFound(`grant ${input.grantId} not found`);
    mayReview(b, input.actor);
    const now = clock.now();
    const recorded = await store.transaction(async (tx) => {
      if (!(await tx.reviewBreakGlass(b.grantId, input.actor.name, comment, now))) return false;
      await tx.appendAudit({
        at: now,
        actor: input.actor.name,
        action: 'grant.break-glass-reviewed',
        requestId: b.requestId,
        grantId: b.grantId,
        target: b.target,
        subjectUser: b.user,
        details: { profile: b.profile, comment },
      });
      return true;
    });
    if (!recorded) {
      const done = await store.getBreakGlass(b.grantId);
      throw conflict(`grant ${b.grantId} was already reviewed by ${done?.reviewedBy ?? 'someone'}`);
    }
    return { ...b, reviewedAt: now, reviewedBy: input.actor.name, reviewComment: comment };
  }

  /** Admins and auditors see every activation; others their own. `open`: only the unreviewed. */
  async function list(input: { actor: UserDef; open: boolean; limit?: number }): Promise<BreakGlassRecord[]> {
    const all = await store.listBreakGlass({ open: input.open, limit: readsEverything(input.actor) ? (input.limit ?? 500) : 5000 });
    return readsEverything(input.actor) ? all : all.filter((b) => b.user === input.actor.name).slice(0, input.limit ?? 500);
  }

  return { review, list };
}

export type BreakGlassReviews = ReturnType<typeof createBreakGlassReviews>;
