// Human renderings of grants and requests shared by several commands.

import type { GrantView, RequestView } from '../api/views/index.js';
import { fields, paintStatus, relativeTime, shortTime, status, table, truncate, type Column, type Output } from './output.js';

/** "in 29m" for an active grant (from the server's remainingMs), "ended 3m ago" for a revoked one, else "". */
export function grantWhen(g: GrantView, now: number): string {
  if (g.status === 'active' && g.remainingMs !== null) return g.remainingMs < 1000 ? 'expiring' : relativeTime(now + g.remainingMs, now);
  if (g.status === 'revoked' && g.revokedAt) return `ended ${relativeTime(g.revokedAt, now)}`;
  if (g.status === 'revoke-failing') return `retrying (${g.attempts} attempt${g.attempts === 1 ? '' : 's'})`;
  return '';
}

export function grantsTable(out: Output, grants: GrantView[], now: number, withUser: boolean): string {
  const cols: Column<GrantView>[] = [
    { header: 'ID', value: (g) => g.id },
    ...(withUser ? [{ header: 'USER', value: (g: GrantView) => g.user }] : []),
    { header: 'PROFILE', value: (g) => g.profile },
    { header: 'TARGET', value: (g) => g.target },
    { header: 'ACCOUNT', value: (g) => g.account },
    { header: 'STATUS', value: (g) => g.status, paint: (g, s) => paintStatus(g.status, s) },
    { header: 'EXPIRES', value: (g) => grantWhen(g, now) },
  ];
  return table(grants, cols, out.color);
}

export function grantBlock(out: Output, g: GrantView, now: number): string {
  const expires = g.status === 'active' && g.expiresAt ? `${grantWhen(g, now)} (${shortTime(g.expiresAt)})` : null;
  return fields([
    ['grant', g.id],
    ['profile', g.profile],
    ['target', g.target],
    ['account', g.account],
    ['roles', g.roles.length ? g.roles.join(', ') : null],
    ['status', status(out, g.status)],
    ['duration', `${g.duration} (max ${g.maxDuration})`],
    ['expires', expires],
    ['revoked', g.revokedAt ? `${shortTime(g.revokedAt)}${g.revokeReason ? ` (${g.revokeReason})` : ''}` : null],
    ['last error', g.lastError],
  ]);
}

/** What to type next once a grant is active. */
export function grantHints(g: GrantView): string {
  return `next: stint creds ${g.id}   or   stint connect ${g.id}\n      stint extend ${g.id} --by 15m   ·   stint revoke ${g.id} (check in early)`;
}

export function requestsTable(out: Output, requests: RequestView[], now: number): string {
  const cols: Column<RequestView>[] = [
    { header: 'ID', value: (r) => r.id },
    { header: 'USER', value: (r) => r.user },
    { header: 'PROFILE', value: (r) => r.profile },
    { header: 'FOR', value: (r) => r.duration },
    { header: 'STATUS', value: (r) => r.status, paint: (r, s) => paintStatus(r.status, s) },
    { header: 'CREATED', value: (r) => relativeTime(r.createdAt, now) },
    { header: 'GRANT', value: (r) => r.grantId ?? '' },
    { header: 'REASON', value: (r) => truncate([r.ticket ? `[${r.ticket}]` : '', r.reason ?? ''].filter(Boolean).join(' '), 48) },
  ];
  return table(requests, cols, out.color);
}

/** One line about where a request stands. */
export function requestSummary(out: Output, r: RequestView, now: number): string {
  switch (r.status) {
    case 'pending': {
      const left = r.pendingExpiresAt ? `; it lapses ${relativeTime(r.pendingExpiresAt, now)} if nobody decides` : '';
      return `${r.id} is ${status(out, 'pending')}: needs ${r.requiredApprovals} approval${r.requiredApprovals === 1 ? '' : 's'} (policy ${r.policy})${left}`;
    }
    case 'approved':
      return `${r.id} ${status(out, 'approved')}${r.decidedBy ? ` by ${r.decidedBy}` : ''}${r.grantId ? `; grant ${r.grantId}` : ''}`;
    case 'denied':
      return `${r.id} ${status(out, 'denied')}${r.decidedBy ? ` by ${r.decidedBy}` : ''}${r.decisionComment ? `: ${r.decisionComment}` : ''}`;
    case 'cancelled':
      return `${r.id} ${status(out, 'cancelled')}${r.decidedBy ? ` by ${r.decidedBy}` : ''}`;
    case 'expired-unapproved':
      return `${r.id} ${status(out, 'expired-unapproved')}: nobody approved it in time`;
  }
}
