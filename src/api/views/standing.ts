// GET /v1/reports/standing and GET /v1/reports/zsp: standing privileges per
// target and the zero-standing-privilege score with its daily trend.

import { z } from 'zod';
import { zspScoreView } from './reconcile.js';

export const standingTargetView = z.object({
  target: z.string(),
  kind: z.string(),
  checkedAt: z.string(),
  reachable: z.boolean(),
  /** False when the kind cannot list holders or listing them failed: `standing` is then unknown, not empty. */
  checked: z.boolean().describe('false when holders could not be listed: standing is then unknown, not empty'),
  standing: z
    .array(
      z.object({
        principal: z.string(),
        grant: z.string(),
        how: z.enum(['direct', 'inherited']),
        via: z.array(z.string()).describe('roles or groups it is held through, nearest the principal first'),
        grantedByStint: z.boolean().nullable(),
      }),
    )
    .describe('principals holding a profile permission outside a live grant'),
  zsp: zspScoreView,
  notes: z.array(z.string()),
  errors: z.array(z.object({ stage: z.string(), account: z.string().optional(), message: z.string() })),
});

export const standingReportView = z.object({
  checkedAt: z.string(),
  targets: z.array(standingTargetView),
  zsp: zspScoreView.describe('the targets pooled'),
});
export type StandingReportView = z.infer<typeof standingReportView>;

export const zspDashboardView = z.object({
  days: z.number(),
  /** Each target's newest stored score. */
  latest: z.array(zspScoreView.extend({ target: z.string(), at: z.string() })),
  overall: zspScoreView.describe('the newest scores pooled'),
  trend: z
    .array(z.object({ day: z.string(), overall: zspScoreView, targets: z.record(z.string(), zspScoreView) }))
    .describe("per UTC day, oldest first: each target's last score of the day, and those pooled"),
});
export type ZspDashboardView = z.infer<typeof zspDashboardView>;
