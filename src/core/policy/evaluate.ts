// Pure policy evaluation: (policies, user, profile, ask) → decision. No I/O,
// no clock. Independent of the order of the policies: every applicable policy
// is evaluated and the result is chosen by a total order, never by position.

import { formatDuration } from '../duration.js';
import { isAuditor, type Role } from '../identity/roles.js';
import type { ApprovalRecord, ApprovalRule, PolicyDef, ProfileDef, RequestRecord, UserDef } from '../types.js';

export interface Ask {
  durationMs: number;
  reason: string | null;
  ticket: string | null;
}

export type Evaluation =
  | {
      outcome: 'allowed';
      policy: PolicyDef;
      /** Effective maximum: the profile's, capped by the policy's. */
      maxDurationMs: number;
      approval: ApprovalRule;
    }
  | { outcome: 'rejected'; code: 'denied' | 'invalid'; message: string };

export function globMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(name);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function isSubject(policy: PolicyDef, user: UserDef): boolean {
  return policy.subjects.users.includes(user.name) || policy.subjects.groups.some((g) => user.groups.includes(g));
}

export function coversProfile(policy: PolicyDef, profile: string): boolean {
  return policy.profiles.some((p) => globMatches(p, profile));
}

export function effectiveMaxMs(policy: PolicyDef, profile: ProfileDef): number {
  return policy.maxDurationMs === null ? profile.maxDurationMs : Math.min(policy.maxDurationMs, profile.maxDurationMs);
}

function approvalsNeeded(rule: ApprovalRule): number {
  return rule.kind === 'auto' ? 0 : rule.count;
}

/** Total order on candidate policies: least friction first, then the longest allowed time, then name. */
function better(a: { policy: PolicyDef; max: number }, b: { policy: PolicyDef; max: number }): number {
  return (
    approvalsNeeded(a.policy.approval) - approvalsNeeded(b.policy.approval) ||
    b.max - a.max ||
    (a.policy.name < b.policy.name ? -1 : a.policy.name > b.policy.name ? 1 : 0)
  );
}

export function evaluateRequest(input: { policies: readonly PolicyDef[]; user: UserDef; profile: ProfileDef; ask: Ask }): Evaluation {
  const { user, profile, ask } = input;
  const applicable = input.policies
    .filter((p) => isSubject(p, user) && coversProfile(p, profile.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Deny wins over any number of allows.
  const deny = applicable.find((p) => p.effect === 'deny');
  if (deny) {
    return { outcome: 'rejected', code: 'denied', message: `policy ${deny.name} denies ${user.name} access to profile ${profile.name}` };
  }
  const allows = applicable.filter((p) => p.effect === 'allow');
  if (allows.length === 0) {
    return { outcome: 'rejected', code: 'denied', message: `no policy lets ${user.name} request profile ${profile.name}` };
  }
  if (!Number.isSafeInteger(ask.durationMs) || ask.durationMs <= 0) {
    return { outcome: 'rejected', code: 'invalid', message: 'duration must be a positive amount of time' };
  }

  const passing: { policy: PolicyDef; max: number }[] = [];
  const evidenceMissing: { policy: PolicyDef; missing: string[] }[] = [];
  for (const policy of allows) {
    const max = effectiveMaxMs(policy, profile);
    if (ask.durationMs > max) continue;
    const missing: string[] = [];
    if (policy.requireReason && !ask.reason?.trim()) missing.push('a reason');
    if (policy.requireTicket && !ask.ticket?.trim()) missing.push('a ticket');
    if (missing.length > 0) evidenceMissing.push({ policy, missing });
    else passing.push({ policy, max });
  }

  if (passing.length > 0) {
    const best = passing.sort(better)[0]!;
    return { outcome: 'allowed', policy: best.policy, maxDurationMs: best.max, approval: best.policy.approval };
  }
  if (evidenceMissing.length > 0) {
    const first = evidenceMissing.sort((a, b) => a.missing.length - b.missing.length || (a.policy.name < b.policy.name ? -1 : 1))[0]!;
    return {
      outcome: 'rejected',
      code: 'invalid',
      message: `policy ${first.policy.name} requires ${first.missing.join(' and ')} to request profile ${profile.name}`,
    };
  }
  const largest = Math.max(...allows.map((p) => effectiveMaxMs(p, profile)));
  return {
    outcome: 'rejected',
    code: 'invalid',
    message: `requested duration ${formatDuration(ask.durationMs)} is above the maximum of ${formatDuration(largest)} for profile ${profile.name}`,
  };
}

export type ApprovalState = 'pending' | 'approved' | 'denied';

/**
 * Counts decisions on a request: any deny decides (deny wins over any number of
 * approvals, whatever the order they arrived in); otherwise approved once
 * enough distinct people other than the requester approved.
 */
export function tallyApprovals(
  request: Pick<RequestRecord, 'user' | 'requiredApprovals'>,
  approvals: readonly Pick<ApprovalRecord, 'approver' | 'decision'>[],
): ApprovalState {
  const others = approvals.filter((a) => a.approver !== request.user);
  if (others.some((a) => a.decision === 'deny')) return 'denied';
  const approvers = new Set(others.filter((a) => a.decision === 'approve').map((a) => a.approver));
  return approvers.size >= Math.max(1, request.requiredApprovals) ? 'approved' : 'pending';
}

/**
 * Whether `actor` may approve or deny `request`: only someone its policy names
 * as an approver (user or group). No role approves: not admin (separation of
 * duties: an admin approves only where a policy names them), not auditor
 * (reads, never decides). The requester never may, whatever their roles.
 */
export function mayDecide(
  request: Pick<RequestRecord, 'user' | 'approverUsers' | 'approverGroups'>,
  actor: Pick<UserDef, 'name' | 'groups'> & { roles?: readonly Role[] },
): { ok: true } | { ok: false; message: string } {
  if (actor.name === request.user) return { ok: false, message: 'you cannot approve or deny your own request' };
  if (isAuditor(actor)) return { ok: false, message: `${actor.name} holds the auditor role, which reads and never decides` };
  if (request.approverUsers.includes(actor.name) || request.approverGroups.some((g) => actor.groups.includes(g))) return { ok: true };
  const why = (actor.roles ?? []).includes('admin') ? ' (being an admin does not make one: only a policy names approvers)' : '';
  return { ok: false, message: `${actor.name} is not an approver for this request${why}` };
}

/**
 * Break-glass: a member of the profile's `breakGlass` groups activates it
 * without approval, whatever approvers a policy names. A deny policy still
 * wins; a reason is required; the duration is at most the profile's maximum.
 */
export function evaluateBreakGlass(input: {
  policies: readonly PolicyDef[];
  user: UserDef;
  profile: ProfileDef;
  ask: Ask;
}): { outcome: 'allowed'; maxDurationMs: number } | { outcome: 'rejected'; code: 'denied' | 'invalid' | 'forbidden'; message: string } {
  const { user, profile, ask } = input;
  const groups = profile.breakGlass?.groups ?? [];
  if (groups.length === 0) return { outcome: 'rejected', code: 'invalid', message: `profile ${profile.name} has no break-glass; request it the usual way` };
  const deny = input.policies
    .filter((p) => p.effect === 'deny' && isSubject(p, user) && coversProfile(p, profile.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))[0];
  if (deny)
    return { outcome: 'rejected', code: 'denied', message: `policy ${deny.name} denies ${user.name} access to profile ${profile.name}, break-glass or not` };
  if (!groups.some((g) => user.groups.includes(g))) {
    return {
      outcome: 'rejected',
      code: 'forbidden',
      message: `break-glass on profile ${profile.name} is for members of ${groups.join(', ')}; ${user.name} is in none of them`,
    };
  }
  if (!ask.reason?.trim()) return { outcome: 'rejected', code: 'invalid', message: `break-glass needs a reason: say why access cannot wait for approval` };
  if (!Number.isSafeInteger(ask.durationMs) || ask.durationMs <= 0)
    return { outcome: 'rejected', code: 'invalid', message: 'duration must be a positive amount of time' };
  if (ask.durationMs > profile.maxDurationMs) {
    return {
      outcome: 'rejected',
      code: 'invalid',
      message: `requested duration ${formatDuration(ask.durationMs)} is above the maximum of ${formatDuration(profile.maxDurationMs)} for profile ${profile.name}`,
    };
  }
  return { outcome: 'allowed', maxDurationMs: profile.maxDurationMs };
}
