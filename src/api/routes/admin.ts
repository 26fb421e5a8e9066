// What the admin page shows: targets with their health and revoke-failing
// counts, and the profiles and policies the config file defines. Also the
// small public list of targets (name, kind, critical) approvers need to see
// what a request touches.

import { z } from 'zod';
import { formatDuration } from '../../core/duration.js';
import { safeErrorText } from '../../core/scrub.js';
import { liveGrantStatuses, type LiveGrantStatus } from '../../core/types.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { configView, targetHealthView, targetView } from '../views/index.js';

const healthTimeoutMs = 3000;

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function adminRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'GET',
      url: '/v1/targets',
      tag: 'targets',
      auth: 'user',
      summary: 'Targets by name, kind and whether they are critical (no addresses, no credentials)',
      response: z.object({ targets: z.array(targetView) }),
      handler: async () => ({
        targets: [...deps.catalog().targets.values()]
          .map((t) => ({ name: t.name, kind: t.kind, critical: t.critical }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      }),
    }),
    route({
      method: 'GET',
      url: '/v1/admin/targets',
      tag: 'admin',
      auth: 'admin',
      summary: `Every target with a health check made now (admin credential, ${healthTimeoutMs} ms timeout) and its live grants by status`,
      response: z.object({ targets: z.array(targetHealthView) }),
      handler: async () => {
        const live = await deps.store.listGrants({ statuses: liveGrantStatuses, limit: 100_000 });
        const targets = [...deps.catalog().targets.values()].sort((a, b) => a.name.localeCompare(b.name));
        return {
          targets: await Promise.all(
            targets.map(async (t) => {
              const started = Date.now();
              let error: string | null = null;
              try {
                await withTimeout(
                  Promise.resolve().then(() => deps.connectors.get(t.name).checkHealth()),
                  healthTimeoutMs,
                  `target ${t.name}`,
                );
              } catch (err) {
                error = safeErrorText(err);
              }
              const counts = Object.fromEntries(liveGrantStatuses.map((s) => [s, 0])) as Record<LiveGrantStatus, number>;
              for (const g of live) if (g.target === t.name && g.status !== 'revoked') counts[g.status]++;
              return {
                name: t.name,
                kind: t.kind,
                critical: t.critical,
                health: { ok: error === null, checkedAt: new Date(deps.clock.now()).toISOString(), latencyMs: Date.now() - started, error },
                grants: counts,
              };
            }),
          ),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/admin/config',
      tag: 'admin',
      auth: 'admin',
      summary: 'Profiles and policies as loaded, with the config file they came from',
      response: configView,
      handler: async () => {
        const c = deps.catalog();
        return {
          file: deps.configPath ?? null,
          profiles: [...c.profiles.values()]
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((p) => ({
              name: p.name,
              target: p.target,
              mode: p.mode,
              grants: p.grants,
              maxDuration: formatDuration(p.maxDurationMs),
              terminateSessionsOnRevoke: p.terminateSessionsOnRevoke,
              description: p.description,
            })),
          policies: c.policies.map((p) => ({
            name: p.name,
            effect: p.effect,
            subjects: p.subjects,
            profiles: p.profiles,
            maxDuration: p.maxDurationMs === null ? null : formatDuration(p.maxDurationMs),
            requireReason: p.requireReason,
            requireTicket: p.requireTicket,
            approval:
              p.approval.kind === 'auto'
                ? 'auto'
                : `${p.approval.count} of ${[...p.approval.users.map((u) => `user ${u}`), ...p.approval.groups.map((g) => `group ${g}`)].join(', ')}`,
            pendingTimeout: p.pendingTimeoutMs === null ? null : formatDuration(p.pendingTimeoutMs),
          })),
        };
      },
    }),
  ];
}
