// Standing privileges and the zero-standing-privilege score, for auditors and
// admins. The standing report is a dry-run reconcile (it changes nothing and
// appends no audit event); the dashboard reads the scores reconcile stored.

import { z } from 'zod';
import { StintError } from '../../core/errors.js';
import { DAY_MS, dailyTrend, overallScore } from '../../core/reconcile/zsp.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { nameSchema } from '../schemas.js';
import { standingReportView, zspDashboardView, type StandingReportView, type ZspDashboardView } from '../views/index.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function standingRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'GET',
      url: '/v1/reports/standing',
      tag: 'reports',
      auth: 'admin',
      errors: ['not_found'],
      summary: 'Standing privileges now: per target, every principal holding a profile permission outside a live grant, and how (auditors, admins)',
      query: z.object({ target: nameSchema.optional() }).strict(),
      response: standingReportView,
      handler: async ({ actor, query }): Promise<StandingReportView> => {
        if (!deps.reconcile) throw new StintError('target_unavailable', 'reconcile is not configured on this broker');
        const r = await deps.reconcile.reconcile({ target: query.target, dryRun: true, actor: actor.name });
        return {
          checkedAt: iso(r.finishedAt),
          targets: r.targets.map((t) => ({
            target: t.target,
            kind: t.kind,
            checkedAt: iso(t.checkedAt),
            reachable: t.reachable,
            checked: t.zsp.score !== null,
            standing: t.standing,
            zsp: t.zsp,
            notes: t.notes,
            errors: t.errors,
          })),
          zsp: r.zsp,
        };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/reports/zsp',
      tag: 'reports',
      auth: 'admin',
      summary: 'Zero-standing-privilege score: each target’s newest, pooled, and a daily trend (auditors, admins)',
      query: z.object({ days: z.coerce.number().int().min(1).max(400).default(30) }).strict(),
      response: zspDashboardView,
      handler: async ({ query }): Promise<ZspDashboardView> => {
        const latest = await deps.store.latestZspSnapshots();
        const since = deps.clock.now() - query.days * DAY_MS;
        const trend = dailyTrend(await deps.store.listZspSnapshots({ since }));
        return {
          days: query.days,
          latest: latest.map((s) => ({ target: s.target, at: iso(s.at), score: s.score, holders: s.holders, standingHolders: s.standingHolders })),
          overall: overallScore(latest),
          trend,
        };
      },
    }),
  ];
}
