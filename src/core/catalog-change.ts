// What a new config would orphan: live grants whose profile, target or user
// it no longer defines. Removing a profile or target under live access is
// refused unless the operator asks Stint to revoke that access first;
// removing a user revokes their access (they should have none left).

import type { Catalog, GrantRecord } from './types.js';
import { formatDuration } from './duration.js';

export interface Orphans {
  targetRemoved: GrantRecord[];
  profileRemoved: GrantRecord[];
  userRemoved: GrantRecord[];
  /** Already being revoked; they block nothing, but their targets must stay reachable until done. */
  draining: GrantRecord[];
}

/**
 * A user the config no longer defines is removed, unless people sign in
 * through the identity provider: then the provider says who exists, and
 * its re-check signs out whoever it drops.
 */
export function userBacked(catalog: Catalog, user: string): boolean {
  return catalog.peopleFromProvider === true || catalog.users.has(user);
}

export function findOrphans(live: readonly GrantRecord[], catalog: Catalog): Orphans {
  const out: Orphans = { targetRemoved: [], profileRemoved: [], userRemoved: [], draining: [] };
  for (const g of live) {
    const unbacked = !catalog.targets.has(g.target) || !catalog.profiles.has(g.profile) || !userBacked(catalog, g.user);
    if (unbacked && (g.status === 'revoking' || g.status === 'revoke-failing')) out.draining.push(g);
    else if (!catalog.targets.has(g.target)) out.targetRemoved.push(g);
    else if (!catalog.profiles.has(g.profile)) out.profileRemoved.push(g);
    else if (!userBacked(catalog, g.user)) out.userRemoved.push(g);
  }
  return out;
}

/** Targets no longer in the config that must stay reachable to finish revoking. */
export function targetsToKeep(o: Orphans, catalog: Catalog): Set<string> {
  return new Set([...o.targetRemoved, ...o.draining].map((g) => g.target).filter((t) => !catalog.targets.has(t)));
}

/** True when applying the config needs the operator's explicit consent. */
export function blocksConfig(o: Orphans): boolean {
  return o.targetRemoved.length + o.profileRemoved.length > 0;
}

export function describeOrphans(o: Orphans, now: number, limit = 20): string {
  const lines: string[] = [];
  const line = (g: GrantRecord, what: string) => {
    const left = g.expiresAt === null ? g.status : `${g.status}, ${formatDuration(Math.max(0, g.expiresAt - now))} left`;
    return `  ${g.id} (${g.user}, profile ${g.profile} on ${g.target}, ${left}): ${what}`;
  };
  const all = [
    ...o.targetRemoved.map((g) => line(g, `target ${g.target} is no longer in the config`)),
    ...o.profileRemoved.map((g) => line(g, `profile ${g.profile} is no longer in the config`)),
  ];
  lines.push(...all.slice(0, limit));
  if (all.length > limit) lines.push(`  … and ${all.length - limit} more`);
  return (
    `the new config removes profiles or targets that ${all.length} live grant${all.length === 1 ? '' : 's'} still use:\n${lines.join('\n')}\n` +
    'revoke them first (stint revoke GRANT), or apply the config with --revoke-orphans to have Stint revoke them before it takes effect'
  );
}
