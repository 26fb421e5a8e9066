// POST /v1/reconcile: what a comparison of targets with the store found (its
// converter stays in ../routes/reconcile.ts, beside the core report it reads).

import { z } from 'zod';
import { deliveryModes } from '../../core/types.js';

export const zspScoreView = z.object({
  score: z.number().nullable().describe('share of holders of profile permissions that hold them only through live grants (0..1); null when not measured'),
  holders: z.number(),
  standingHolders: z.number(),
});

export const reconcileTargetView = z.object({
  target: z.string(),
  kind: z.string(),
  checkedAt: z.string(),
  dryRun: z.boolean(),
  reachable: z.boolean().describe('false when the target could not be listed; nothing else was checked then'),
  managedAccounts: z.number().describe('Stint-marked accounts found on the target'),
  driftRemoved: z
    .array(
      z.object({
        account: z.string(),
        removed: z.boolean().describe('false in a dry run: it would be removed'),
        existed: z.boolean().nullable(),
        terminatedSessions: z.number(),
      }),
    )
    .describe('marked accounts no live grant backs'),
  driftRevoked: z
    .array(
      z.object({
        account: z.string(),
        grant: z.string(),
        user: z.string().nullable(),
        revoked: z.boolean().describe('false in a dry run: it would be revoked'),
      }),
    )
    .describe('memberships Stint granted that no live grant backs'),
  accountMissing: z
    .array(
      z.object({
        grantId: z.string(),
        user: z.string(),
        profile: z.string(),
        account: z.string(),
        mode: z.enum(deliveryModes),
        problem: z.enum(['account', 'grants']),
        missingGrants: z.array(z.string()),
      }),
    )
    .describe('active grants whose access is not on the target (the grant is left as it is)'),
  standing: z
    .array(
      z.object({
        principal: z.string(),
        grant: z.string(),
        how: z.enum(['direct', 'inherited']),
        via: z.array(z.string()),
        grantedByStint: z.boolean().nullable(),
      }),
    )
    .describe('privileges of a profile held outside Stint (report only)'),
  zsp: zspScoreView.describe('zero-standing-privilege score of the target (docs/zsp.md)'),
  bypass: z
    .array(
      z.object({
        check: z.string(),
        status: z.enum(['pass', 'fail', 'unknown']),
        message: z.string(),
      }),
    )
    .describe(
      "the target's own settings that keep issued accounts inside Stint (e.g. sshd: keys only from a root-owned file); fail: an account could be used around Stint; unknown: could not be verified",
    ),
  errors: z.array(z.object({ stage: z.string(), account: z.string().optional(), message: z.string() })),
  notes: z.array(z.string()),
});
export type ReconcileTargetView = z.infer<typeof reconcileTargetView>;

export const reconcileView = z.object({
  dryRun: z.boolean(),
  startedAt: z.string(),
  finishedAt: z.string(),
  targets: z.array(reconcileTargetView),
  zsp: zspScoreView.describe('the targets pooled'),
});
export type ReconcileView = z.infer<typeof reconcileView>;
