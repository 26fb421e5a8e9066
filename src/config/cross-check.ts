// Checks between sections: unique names, profiles naming real targets,
// policy patterns matching real profiles, accounts on real targets. Works on
// the raw parsed YAML so these problems are reported together with schema
// problems elsewhere in the file, not only after those are fixed.

import { connectorModules } from '../connectors/registry.js';
import type { ConnectorModule } from '../connectors/module.js';
import { ownAccountTemplateProblem, usernamePlaceholder } from '../core/identity/own-account.js';
import { globMatches } from '../core/policy/evaluate.js';
import type { PathProblem, PathSegment } from './issues.js';
import { namePattern, profilePatternPattern, quoteValue } from './schema.js';

type Section = 'targets' | 'profiles' | 'policies' | 'users';
const singular: Record<Section, string> = { targets: 'target', profiles: 'profile', policies: 'policy', users: 'user' };

export function crossCheck(raw: unknown, lineOf: (path: readonly PathSegment[]) => number): PathProblem[] {
  const root = isRecord(raw) ? raw : {};
  const items = (s: Section): unknown[] => (Array.isArray(root[s]) ? (root[s] as unknown[]) : []);
  const problems: PathProblem[] = [];

  for (const section of ['targets', 'profiles', 'policies', 'users'] as const) {
    problems.push(...duplicateNames(section, items(section), lineOf));
  }

  // Names of entries that are otherwise invalid still count here, so one bad
  // target does not also make every profile on it "unknown".
  const targetNames = namesOf(items('targets'));
  const profileNames = namesOf(items('profiles'));

  // The kind of each target, where it is a known kind: it checks grants, modes and accounts.
  const moduleOf = new Map<string, ConnectorModule>();
  for (const t of items('targets')) {
    if (isRecord(t) && typeof t.name === 'string' && typeof t.kind === 'string' && Object.hasOwn(connectorModules, t.kind)) {
      moduleOf.set(t.name, connectorModules[t.kind as keyof typeof connectorModules]);
    }
  }

  items('targets').forEach((t, i) => {
    // The template's fixed part, tried with a plain name: a form the kind refuses for everyone is a config error.
    if (!isRecord(t) || typeof t.ownAccount !== 'string' || typeof t.name !== 'string' || ownAccountTemplateProblem(t.ownAccount)) return;
    const mod = moduleOf.get(t.name);
    const sample = t.ownAccount.split(usernamePlaceholder).join('alice');
    const why = mod?.checkAccount(sample);
    if (mod && why)
      problems.push({
        path: ['targets', i, 'ownAccount'],
        message: `${quoteValue(t.ownAccount)} gives ${quoteValue(sample)} for a user named alice, which is not a valid ${mod.kind} account: ${why}`,
      });
  });

  items('profiles').forEach((p, i) => {
    if (!isRecord(p)) return;
    const target = p.target;
    if (typeof target === 'string' && namePattern.test(target) && !targetNames.includes(target)) {
      problems.push({ path: ['profiles', i, 'target'], message: `unknown target ${quoteValue(target)}; ${listing('targets', targetNames)}` });
    }
    const mod = typeof target === 'string' ? moduleOf.get(target) : undefined;
    if (!mod) return;
    if (p.portForwarding !== undefined && (mod.kind !== 'ssh' || p.mode !== 'ephemeral-account')) {
      problems.push({
        path: ['profiles', i, 'portForwarding'],
        message:
          mod.kind !== 'ssh'
            ? `portForwarding applies to the SSH gateway, and ${quoteValue(String(target))} is a ${mod.kind} target; remove it`
            : 'portForwarding applies to ephemeral-account profiles (the SSH gateway serves only those); remove it or use mode ephemeral-account',
      });
    }
    if (p.allowBuiltinPrivileged !== undefined && mod.kind !== 'ad') {
      problems.push({
        path: ['profiles', i, 'allowBuiltinPrivileged'],
        message: `allowBuiltinPrivileged applies to Active Directory (ad) targets, and ${quoteValue(String(target))} is a ${mod.kind} target; remove it`,
      });
    }
    if (typeof p.mode === 'string' && (p.mode === 'ephemeral-account' || p.mode === 'own-account') && !mod.modes.includes(p.mode)) {
      problems.push({ path: ['profiles', i, 'mode'], message: `${mod.kind} targets do not support mode ${p.mode}; supported: ${mod.modes.join(', ')}` });
    }
    if (Array.isArray(p.grants)) {
      p.grants.forEach((g: unknown, j) => {
        if (typeof g !== 'string' || g.length === 0 || g.length > 1024 || /[\0\r\n]/.test(g)) return;
        const why = mod.checkGrant(g);
        if (why) problems.push({ path: ['profiles', i, 'grants', j], message: `${quoteValue(g)} is not a valid ${mod.kind} grant: ${why}` });
      });
    }
    const targetDef = items('targets').find((t) => isRecord(t) && t.name === target);
    if (mod.checkProfile && Array.isArray(p.grants) && isRecord(targetDef)) {
      const grants = p.grants.map((g: unknown) => (typeof g === 'string' ? g : ''));
      for (const x of mod.checkProfile({ grants, allowAdminRole: p.allowAdminRole === true }, targetDef))
        problems.push({ path: ['profiles', i, 'grants', x.index], message: x.message });
    }
  });

  items('policies').forEach((p, i) => {
    if (!isRecord(p) || !Array.isArray(p.profiles)) return;
    p.profiles.forEach((pattern: unknown, j) => {
      if (typeof pattern !== 'string' || !profilePatternPattern.test(pattern)) return;
      if (profileNames.some((name) => globMatches(pattern, name))) return;
      // A pattern matching nothing is almost always a typo that silently grants or denies nothing.
      const what = pattern.includes('*') ? `pattern ${quoteValue(pattern)} matches no profile` : `unknown profile ${quoteValue(pattern)}`;
      problems.push({ path: ['policies', i, 'profiles', j], message: `${what}; ${listing('profiles', profileNames)}` });
    });
  });

  problems.push(...autoApprovedCritical(items('targets'), items('profiles'), items('policies')));

  items('users').forEach((u, i) => {
    // The initial admin token belongs to the built-in `admin`; a config user of that name would take it over.
    if (isRecord(u) && typeof u.name === 'string' && u.name.toLowerCase() === 'admin') {
      problems.push({
        path: ['users', i, 'name'],
        message:
          '"admin" is reserved for the built-in administrator that owns the initial admin token; choose another name (and set admin: true on it if needed)',
      });
    }
    if (!isRecord(u) || !isRecord(u.accounts)) return;
    for (const [target, account] of Object.entries(u.accounts)) {
      const mod = moduleOf.get(target);
      if (mod && typeof account === 'string' && account.length > 0 && account.length <= 1024 && !/[\0\r\n]/.test(account)) {
        const why = mod.checkAccount(account);
        if (why) problems.push({ path: ['users', i, 'accounts', target], message: `${quoteValue(account)} is not a valid ${mod.kind} account: ${why}` });
      }
      if (namePattern.test(target) && !targetNames.includes(target)) {
        problems.push({
          path: ['users', i, 'accounts', target],
          atKey: true,
          message: `account on unknown target ${quoteValue(target)}; ${listing('targets', targetNames)}`,
        });
      }
    }
  });

  return problems;
}

/**
 * `critical: true` means a second person looks at every use: a policy that
 * approves automatically a profile on a critical target is refused, pointing at
 * its approval line. (Break-glass activation is not a policy's approval: it has
 * its own path, with an alert and a review.)
 */
function autoApprovedCritical(targets: unknown[], profiles: unknown[], policies: unknown[]): PathProblem[] {
  const critical = new Set(targets.flatMap((t) => (isRecord(t) && typeof t.name === 'string' && t.critical === true ? [t.name] : [])));
  if (critical.size === 0) return [];
  const onCritical = profiles.flatMap((p) =>
    isRecord(p) && typeof p.name === 'string' && typeof p.target === 'string' && critical.has(p.target) ? [{ name: p.name, target: p.target }] : [],
  );
  const problems: PathProblem[] = [];
  policies.forEach((p, i) => {
    if (!isRecord(p) || p.approval !== 'auto' || (p.effect !== undefined && p.effect !== 'allow') || !Array.isArray(p.profiles)) return;
    const patterns = p.profiles.filter((x): x is string => typeof x === 'string' && profilePatternPattern.test(x));
    const hit = onCritical.filter((prof) => patterns.some((pattern) => globMatches(pattern, prof.name)));
    if (hit.length === 0) return;
    const who = typeof p.name === 'string' && namePattern.test(p.name) ? `policy ${p.name} ` : '';
    const names = hit
      .slice(0, 5)
      .map((h) => `${h.name} (target ${h.target})`)
      .join(', ');
    problems.push({
      path: ['policies', i, 'approval'],
      message:
        `${who}approves automatically ${hit.length === 1 ? 'a profile' : `${hit.length} profiles`} on a critical target: ${names}${hit.length > 5 ? ', …' : ''}; ` +
        'critical targets need approvers: write `approval: { approvers: { groups: [...] }, count: 1 }`, or take these profiles out of this policy',
    });
  });
  return problems;
}

function duplicateNames(section: Section, entries: unknown[], lineOf: (path: readonly PathSegment[]) => number): PathProblem[] {
  const problems: PathProblem[] = [];
  // Case-insensitive: `Alice` and `alice` as two users is a mistake, and some
  // targets fold unquoted identifiers, so the two could collide there.
  const first = new Map<string, { name: string; index: number }>();
  entries.forEach((e, index) => {
    if (!isRecord(e) || typeof e.name !== 'string') return;
    const name = e.name;
    const prior = first.get(name.toLowerCase());
    if (!prior) {
      first.set(name.toLowerCase(), { name, index });
      return;
    }
    const line = lineOf([section, prior.index, 'name']);
    const message =
      prior.name === name
        ? `duplicate ${singular[section]} name ${quoteValue(name)} (first defined on line ${line})`
        : `${singular[section]} name ${quoteValue(name)} differs only by case from ${quoteValue(prior.name)} (line ${line})`;
    problems.push({ path: [section, index, 'name'], message });
  });
  return problems;
}

function namesOf(entries: unknown[]): string[] {
  return entries.flatMap((e) => (isRecord(e) && typeof e.name === 'string' ? [e.name] : []));
}

function listing(what: string, all: readonly string[]): string {
  // Only well-formed names go into the message; the bad ones get their own error.
  const names = [...new Set(all.filter((n) => namePattern.test(n)))];
  if (names.length === 0) return `no ${what} are defined`;
  const shown = names.slice(0, 10).join(', ');
  return `defined ${what}: ${shown}${names.length > 10 ? `, … (${names.length} in all)` : ''}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
