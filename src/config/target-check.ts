// Profiles checked against their targets once the connectors exist (broker
// start and config reload), for kinds that can (Connector.checkProfile): a
// group that does not exist, lies outside the configured base or is built-in
// privileged without the profile's consent is refused like any other config
// problem, with the file:line of the grant. A target that cannot be reached
// is not a config problem: it is logged, and the grant-time check remains.

import type { ConnectorRegistry } from '../core/ports.js';
import { safeErrorText } from '../core/scrub.js';
import { ConfigError, sortIssues, type ConfigIssue } from './issues.js';
import type { LoadedConfig } from './load.js';
import { quoteValue } from './schema.js';

export interface TargetCheckDeps {
  connectors: ConnectorRegistry;
  /** A target could not be asked; its profiles were not checked. */
  warn(target: string, message: string): void;
}

/** Throws a ConfigError listing every grant a target refuses; returns when none is refused. */
export async function checkProfilesOnTargets(config: Pick<LoadedConfig, 'catalog' | 'locate'>, deps: TargetCheckDeps): Promise<void> {
  const profiles = [...config.catalog.profiles.values()];
  const byTarget = new Map<string, number[]>();
  // The catalog keeps the file's order (names are unique), so an index here is the profile's index in the file.
  profiles.forEach((p, i) => byTarget.set(p.target, [...(byTarget.get(p.target) ?? []), i]));
  const issues: ConfigIssue[] = [];
  // Targets side by side: one slow DC does not hold up the others.
  await Promise.all(
    [...byTarget].map(async ([target, indexes]) => {
      const connector = deps.connectors.get(target);
      if (!connector.checkProfile) return;
      for (const i of indexes) {
        const p = profiles[i]!;
        let problems;
        try {
          problems = (await connector.checkProfile({ grants: p.grants, allowBuiltinPrivileged: p.allowBuiltinPrivileged === true })).problems;
        } catch (err) {
          deps.warn(target, `profiles on this target were not checked against it (the check is repeated at each grant): ${safeErrorText(err)}`);
          return;
        }
        for (const { grant, reason } of problems) {
          const j = p.grants.indexOf(grant);
          issues.push(
            config.locate({
              path: j >= 0 ? ['profiles', i, 'grants', j] : ['profiles', i, 'grants'],
              message: `profile ${p.name}: ${quoteValue(grant)} cannot be granted on target ${target}: ${reason}`,
            }),
          );
        }
      }
    }),
  );
  if (issues.length > 0) throw new ConfigError(sortIssues(issues));
}
