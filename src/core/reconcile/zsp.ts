// The zero-standing-privilege (ZSP) score: of the principals holding any of a
// target's profile permissions, the share that hold them only through live
// grants. Pure; docs/zsp.md gives the definition this implements.
//
// - A holder is a principal the connector's listHolders reports for one of the
//   target's profile grants, directly or through a role or group, other than
//   Stint's own admin. Each principal counts once per target.
// - A holding is backed when a live grant names the account and holds that
//   permission (own accounts), or, for an ephemeral (marked) account, when a
//   live grant names the account.
// - A principal is just-in-time when every holding it has is backed; otherwise
//   it is a standing holder.
// - score = just-in-time holders / holders, in [0, 1]; 1 when nobody holds any
//   profile permission; null when holders could not be listed.
// - The overall score pools the targets that have one: the sum of their
//   just-in-time holders over the sum of their holders (1 when that sum is 0).

import type { Holder } from '../../connectors/contract.js';
import { isBacked, type GrantFacts } from './diff.js';

export interface ZspScore {
  /** null when the target's holders could not be listed (unreachable, or the kind cannot list them). */
  score: number | null;
  holders: number;
  standingHolders: number;
}

/** One stored measurement (a reconcile run on one target). */
export interface ZspSnapshot {
  target: string;
  at: number;
  score: number;
  holders: number;
  standingHolders: number;
}

export interface ZspInput {
  adminAccount: string;
  /** Marked accounts on the target (listManaged). */
  managed: readonly string[];
  liveGrants: readonly GrantFacts[];
  holders: readonly Holder[] | null;
}

export function zspScore(input: ZspInput): ZspScore {
  if (input.holders === null) return { score: null, holders: 0, standingHolders: 0 };
  const managed = new Set(input.managed);
  const named = new Set(input.liveGrants.map((g) => g.account));
  const standing = new Map<string, boolean>();
  for (const h of input.holders) {
    if (h.account === input.adminAccount) continue;
    const backed = h.managed || managed.has(h.account) ? named.has(h.account) : isBacked(input.liveGrants, h.account, h.grant);
    standing.set(h.account, (standing.get(h.account) ?? false) || !backed);
  }
  const holders = standing.size;
  const standingHolders = [...standing.values()].filter(Boolean).length;
  return { score: ratio(holders - standingHolders, holders), holders, standingHolders };
}

const ratio = (jit: number, all: number) => (all === 0 ? 1 : jit / all);

/** Pools several targets' scores (those with a score) into one. */
export function overallScore(scores: readonly ZspScore[]): ZspScore {
  const measured = scores.filter((s) => s.score !== null);
  if (measured.length === 0) return { score: null, holders: 0, standingHolders: 0 };
  const holders = measured.reduce((n, s) => n + s.holders, 0);
  const standingHolders = measured.reduce((n, s) => n + s.standingHolders, 0);
  return { score: ratio(holders - standingHolders, holders), holders, standingHolders };
}

export const DAY_MS = 86_400_000;
/** Snapshots older than this are pruned when new ones are written. */
export const ZSP_RETENTION_DAYS = 400;

export interface ZspDay {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  /** Pooled over the targets' last snapshot of that day. */
  overall: ZspScore;
  targets: Record<string, ZspScore>;
}

/** Daily trend from snapshots: per UTC day, each target's last snapshot of the day, pooled. Oldest day first. */
export function dailyTrend(snapshots: readonly ZspSnapshot[]): ZspDay[] {
  const byDay = new Map<string, Map<string, ZspSnapshot>>();
  for (const s of snapshots) {
    const day = new Date(s.at).toISOString().slice(0, 10);
    const targets = byDay.get(day) ?? new Map<string, ZspSnapshot>();
    const prev = targets.get(s.target);
    if (!prev || prev.at <= s.at) targets.set(s.target, s);
    byDay.set(day, targets);
  }
  return [...byDay.keys()].sort().map((day) => {
    const targets: Record<string, ZspScore> = {};
    for (const [t, s] of byDay.get(day)!) targets[t] = { score: s.score, holders: s.holders, standingHolders: s.standingHolders };
    return { day, overall: overallScore(Object.values(targets)), targets };
  });
}
