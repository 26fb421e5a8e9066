// POST /v1/reconcile: compare targets with the store now (admins). The work
// and its audit events live in core/reconcile; this only validates and shapes.

import { z } from 'zod';
import { StintError } from '../../core/errors.js';
import type { ReconcileReport } from '../../core/reconcile/reconcile-service.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { nameSchema } from '../schemas.js';
import { reconcileView, type ReconcileView } from '../views/index.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function toReconcileView(r: ReconcileReport): ReconcileView {
  return {
    dryRun: r.dryRun,
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    targets: r.targets.map((t) => ({ ...t, checkedAt: iso(t.checkedAt) })),
    zsp: r.zsp,
  };
}

export function reconcileRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'POST',
      url: '/v1/reconcile',
      tag: 'reconcile',
      auth: 'admin',
      errors: ['not_found'],
      summary: 'Compare targets with the store now: remove drift (unless dryRun), flag active grants whose access vanished, report standing privileges',
      body: z
        .object({ target: nameSchema.optional(), dryRun: z.boolean().default(false) })
        .strict()
        .optional(),
      response: reconcileView,
      handler: async ({ actor, body }) => {
        if (!deps.reconcile) throw new StintError('target_unavailable', 'reconcile is not configured on this broker');
        const report = await deps.reconcile.reconcile({ target: body?.target, dryRun: body?.dryRun ?? false, actor: actor.name });
        return toReconcileView(report);
      },
    }),
  ];
}
