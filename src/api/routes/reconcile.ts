// POST /v1/reconcile: compare targets with the store now (admins). The work
// and its audit events live in core/reconcile; this only validates and shapes.

import { z } from 'zod';
import { StintError } from '../../core/errors.js';
import type { ReconcileReport } from '../../core/reconcile/reconcile-service.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { nameSchema } from '../schemas.js';

const iso = (ms: number) => new Date(ms).toISOString();

export const reconcileTargetView = z.object({
  target: z.string(),
  kind: z.string(),
  checkedAt: z.string(),
  dryRun: z.boolean(),
  reachable: z.boolean().describe('false when the target could not be listed; nothing else was checked then'),
  managedAccounts: z.number().describe('Stint-marked accounts found on the target'),
  driftRemoved: z.array(z.object({
    account: z.string(),
    removed: z.boolean().describe('false in a dry run: it would be removed'),
    existed: z.boolean().nullable(),
    terminatedSessions: z.number(),
  })).describe('marked accounts no live grant backs'),
  driftRevoked: z.array(z.object({
    account: z.string(), grant: z.string(), user: z.string().nullable(),
    revoked: z.boolean().describe('false in a dry run: it would be revoked'),
  })).describe('memberships Stint granted that no live grant backs'),
  accountMissing: z.array(z.object({
    grantId: z.string(), user: z.string(), profile: z.string(), account: z.string(),
    mode: z.enum(['ephemeral-account', 'own-account']),
    problem: z.enum(['account', 'grants']),
    missingGrants: z.array(z.string()),
  })).describe('active grants whose access is not on the target (the grant is left as it is)'),
  standing: z.array(z.object({
    principal: z.string(), grant: z.string(),
    how: z.enum(['direct', 'inherited']),
    via: z.array(z.string()),
    grantedByStint: z.boolean().nullable(),
  })).describe('privileges of a profile held outside Stint (report only)'),
  bypass: z.array(z.object({
    check: z.string(),
    status: z.enum(['pass', 'fail', 'unknown']),
    message: z.string(),
  })).describe("the target's own settings that keep issued accounts inside Stint (e.g. sshd: keys only from a root-owned file); fail: an account could be used around Stint; unknown: could not be verified"),
  errors: z.array(z.object({ stage: z.string(), account: z.string().optional(), message: z.string() })),
  notes: z.array(z.string()),
});

export const reconcileView = z.object({
  dryRun: z.boolean(),
  startedAt: z.string(),
  finishedAt: z.string(),
  targets: z.array(reconcileTargetView),
});

export type ReconcileView = z.infer<typeof reconcileView>;

export function toReconcileView(r: ReconcileReport): ReconcileView {
  return {
    dryRun: r.dryRun,
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    targets: r.targets.map((t) => ({ ...t, checkedAt: iso(t.checkedAt) })),
  };
}

export function reconcileRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'POST', url: '/v1/reconcile', tag: 'reconcile', auth: 'admin', errors: ['not_found'],
      summary: 'Compare targets with the store now: remove drift (unless dryRun), flag active grants whose access vanished, report standing privileges',
      body: z.object({ target: nameSchema.optional(), dryRun: z.boolean().default(false) }).strict().optional(),
      response: reconcileView,
      handler: async ({ actor, body }) => {
        if (!deps.reconcile) throw new StintError('target_unavailable', 'reconcile is not configured on this broker');
        const report = await deps.reconcile.reconcile({ target: body?.target, dryRun: body?.dryRun ?? false, actor: actor.name });
        return toReconcileView(report);
      },
    }),
  ];
}
