// Pure reconcile logic: what a target shows against what the store says, in,
// a plan of actions and findings out. No I/O; the service gathers the inputs
// (in an order that keeps races harmless, see reconcile-service.ts) and
// confirms each action against the store again right before acting.
//
// Safety rules, all enforced here and property-tested:
// - an account is removed only if it carries Stint's marker and no live grant
//   names it (in any mode);
// - a membership is revoked only if it is direct, granted by Stint's admin,
//   on an unmarked account, and no live grant naming that account holds it;
// - nothing else on the target is ever acted on, only reported.

import type { Holder } from '../../connectors/contract.js';
import type { DeliveryMode, GrantStatus } from '../types.js';

/** The fields of a grant reconcile looks at. */
export interface GrantFacts {
  id: string;
  user: string;
  profile: string;
  account: string;
  mode: DeliveryMode;
  status: GrantStatus;
  roles: readonly string[];
}

/** An account as the target sees it (connector.describeAccount). */
export interface AccountFacts {
  exists: boolean;
  grants: readonly string[];
}

export interface DiffInput {
  /** The broker's own admin principal on the target: never standing, never touched. */
  adminAccount: string;
  /** Marked accounts on the target (connector.listManaged). */
  managed: readonly string[];
  /** Grants in a live status, read after the target was listed: they back what is on the target. */
  liveGrants: readonly GrantFacts[];
  /** Grants that were `active` before the target was listed: their access must be there. */
  activeBefore: readonly GrantFacts[];
  /** Own accounts of `activeBefore` grants as the target sees them; an absent key means unknown (not checked). */
  ownAccounts: ReadonlyMap<string, AccountFacts>;
  /** Holders of the target's profile grants; null when the connector cannot list them. */
  holders: readonly Holder[] | null;
}

export interface MissingFinding {
  grantId: string;
  user: string;
  profile: string;
  account: string;
  mode: DeliveryMode;
  /** `account`: the account is gone; `grants`: it exists but lacks some of the grant's roles. */
  problem: 'account' | 'grants';
  missingGrants: string[];
}

export interface StandingFinding {
  principal: string;
  grant: string;
  how: 'direct' | 'inherited';
  /** Intermediate principals for an inherited holding, nearest the principal first. */
  via: string[];
  /** Whether Stint's admin granted it; null when the target cannot tell. */
  grantedByStint: boolean | null;
}

export interface DiffPlan {
  /** Marked accounts no live grant names: remove. */
  removeAccounts: string[];
  /** Direct memberships Stint granted that no live grant holds: revoke. */
  revokeMemberships: { account: string; grant: string }[];
  /** Active grants whose access is not on the target (candidates; the service re-checks the grant is still active). */
  missing: MissingFinding[];
  /** Holdings nobody asked Stint for: report only. */
  standing: StandingFinding[];
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Does a live grant naming `account` hold `grant`? (Any mode: never act against a live grant.) */
export function isBacked(liveGrants: readonly GrantFacts[], account: string, grant: string): boolean {
  return liveGrants.some((g) => g.account === account && g.roles.includes(grant));
}

export function isDirect(h: Holder): boolean {
  return h.via === undefined || h.via.length === 0;
}

/** May reconcile revoke this holding (given no live grant backs it)? */
export function isStintDrift(h: Holder, adminAccount: string, managed: ReadonlySet<string>): boolean {
  return h.grantedByStint === true && isDirect(h) && !h.managed && !managed.has(h.account) && h.account !== adminAccount;
}

export function diffTarget(input: DiffInput): DiffPlan {
  const managed = new Set(input.managed);
  const named = new Set(input.liveGrants.map((g) => g.account));

  const removeAccounts = [...managed].filter((a) => !named.has(a) && a !== input.adminAccount).sort(byString);

  const missing: MissingFinding[] = [];
  for (const g of input.activeBefore) {
    if (g.status !== 'active') continue;
    const base = { grantId: g.id, user: g.user, profile: g.profile, account: g.account, mode: g.mode };
    if (g.mode === 'ephemeral-account') {
      if (!managed.has(g.account)) missing.push({ ...base, problem: 'account', missingGrants: [...g.roles] });
      continue;
    }
    const seen = input.ownAccounts.get(g.account);
    if (!seen) continue;
    if (!seen.exists) {
      missing.push({ ...base, problem: 'account', missingGrants: [...g.roles] });
      continue;
    }
    const lacking = g.roles.filter((r) => !seen.grants.includes(r));
    if (lacking.length > 0) missing.push({ ...base, problem: 'grants', missingGrants: lacking });
  }
  missing.sort((a, b) => byString(a.grantId, b.grantId));

  const revoke = new Map<string, { account: string; grant: string }>();
  const standing = new Map<string, StandingFinding>();
  for (const h of input.holders ?? []) {
    // Ephemeral accounts are reconciled through listManaged; the admin is Stint itself.
    if (h.managed || managed.has(h.account) || h.account === input.adminAccount) continue;
    if (isBacked(input.liveGrants, h.account, h.grant)) continue;
    if (isStintDrift(h, input.adminAccount, managed)) {
      revoke.set(`${h.account}\u0000${h.grant}`, { account: h.account, grant: h.grant });
      continue;
    }
    const direct = isDirect(h);
    const finding: StandingFinding = {
      principal: h.account,
      grant: h.grant,
      how: direct ? 'direct' : 'inherited',
      via: direct ? [] : [...h.via!],
      grantedByStint: direct ? h.grantedByStint : false,
    };
    const key = `${h.account}\u0000${h.grant}\u0000${finding.how}\u0000${String(finding.grantedByStint)}\u0000${finding.via.join('\u0000')}`;
    if (!standing.has(key)) standing.set(key, finding);
  }

  return {
    removeAccounts,
    revokeMemberships: [...revoke.values()].sort((a, b) => byString(a.account, b.account) || byString(a.grant, b.grant)),
    missing,
    standing: [...standing.values()].sort(
      (a, b) =>
        byString(a.principal, b.principal) ||
        byString(a.grant, b.grant) ||
        byString(a.how, b.how) ||
        byString(String(a.grantedByStint), String(b.grantedByStint)) ||
        byString(a.via.join(','), b.via.join(',')),
    ),
  };
}
