// Notifications and the outbox rows that carry them. A notification is
// written to the store's outbox in the same transaction as the change that
// causes it, one row per channel (and, for email, per recipient); a delivery
// worker sends the rows afterwards (notify/delivery-worker.ts). So a crash
// between the commit and the send loses nothing, and a rolled-back change
// notifies nobody.

/** Every kind of notification. The reminder, escalation and expiry-warning kinds are sent by the approval-flow work (issue 16). */
import { formatDuration } from '../duration.js';
import type { GrantRecord, RequestRecord } from '../types.js';
export const notificationKinds = [
  /** A request waits for approval: approvers are asked ("needs your approval"). */
  'request.pending',
  /** The same, repeated to the same approvers after policy approval.remindAfter. */
  'request.reminder',
  /** The same, to the escalation approvers after policy approval.escalateAfter. */
  'request.escalated',
  'request.approved',
  'request.denied',
  'request.cancelled',
  'request.expired-unapproved',
  'grant.active',
  /** The grant ends soon (warnBefore). */
  'grant.expiring',
  'grant.revoked',
  /** The first failed attempt to revoke; retries go on. An alert. */
  'grant.revoke-failing',
  /** A revocation that was failing went through. */
  'grant.revoke-recovered',
  /** A break-glass activation: access without approval; an alert. */
  'grant.break-glass',
] as const;

export type NotificationKind = (typeof notificationKinds)[number];

/** Kinds that are alerts: logged at error level and sent to admins. */
export const alertKinds: readonly NotificationKind[] = ['grant.revoke-failing', 'grant.break-glass'];

export interface Notification {
  kind: NotificationKind;
  at: number;
  requestId?: string;
  grantId?: string;
  user?: string;
  target?: string;
  profile?: string;
  /** The policy that decided the request (for routing chat channels). */
  policy?: string;
  /** Free text people wrote; every channel escapes it. */
  reason?: string | null;
  ticket?: string | null;
  /** The requested or granted duration, as a person reads it ("1h"). */
  duration?: string;
  /** Who decided, cancelled or revoked. */
  by?: string;
  /** The approver's or requester's comment. */
  comment?: string | null;
  expiresAt?: number;
  /** One line for logs and the generic webhook. */
  message: string;
}

/** What every notification about a request says of it. */
export function requestFacts(r: RequestRecord): Pick<Notification, 'requestId' | 'user' | 'target' | 'profile' | 'policy' | 'reason' | 'ticket' | 'duration'> {
  return {
    requestId: r.id,
    user: r.user,
    target: r.target,
    profile: r.profile,
    policy: r.policy,
    reason: r.reason,
    ticket: r.ticket,
    duration: formatDuration(r.durationMs),
  };
}

/** What every notification about a grant says of it. */
export function grantFacts(g: GrantRecord): Pick<Notification, 'grantId' | 'requestId' | 'user' | 'target' | 'profile'> {
  return { grantId: g.id, requestId: g.requestId, user: g.user, target: g.target, profile: g.profile };
}

export type OutboxStatus = 'pending' | 'delivered' | 'failed';

/** One notification for one channel (for email: one recipient). */
export interface OutboxRecord {
  id: string;
  /** Shared by the rows of one notification. */
  eventId: string;
  /** The channel's name from the config (`email`, `slack:ops`, `webhook:1`). */
  channel: string;
  /** For email: the address; otherwise null. */
  recipient: string | null;
  /** For email: why this person gets it (approver, requester, holder, admin); otherwise null. */
  audience: Audience | null;
  kind: NotificationKind;
  notification: Notification;
  status: OutboxStatus;
  attempts: number;
  createdAt: number;
  /** When the next attempt is due (pending rows). */
  nextAttemptAt: number;
  /** The broker holding the row while it sends it, and until when. */
  leaseOwner: string | null;
  leaseUntil: number | null;
  lastError: string | null;
  deliveredAt: number | null;
}

export type Audience = 'approver' | 'requester' | 'holder' | 'admin';

/** What a delivery attempt changes: delivered, failed for good, or retried at nextAttemptAt. */
export interface OutboxOutcome {
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  deliveredAt: number | null;
}

export interface OutboxFilter {
  /** `failing`: pending rows that failed at least once, and failed ones. */
  state?: OutboxStatus | 'failing';
  limit?: number;
}

export interface OutboxCounts {
  pending: number;
  /** Pending rows that failed at least once (being retried). */
  retrying: number;
  failed: number;
}

/** The outbox part of the store port (StoreTx). */
export interface OutboxStoreTx {
  /** In the transaction of the change that causes them. */
  insertNotifications(rows: readonly OutboxRecord[]): Promise<void>;
  /**
   * Leases up to `limit` pending rows due at `now` whose lease is free or
   * ran out, to `owner` until `leaseUntil`, oldest due first. Two brokers
   * claiming at once get different rows (FOR UPDATE SKIP LOCKED on PostgreSQL).
   */
  claimNotifications(owner: string, now: number, leaseUntil: number, limit: number): Promise<OutboxRecord[]>;
  /** Records an attempt's outcome and frees the lease, only while `owner` holds it; true when written. */
  settleNotification(id: string, owner: string, outcome: OutboxOutcome): Promise<boolean>;
  /** Newest first. */
  listNotifications(filter: OutboxFilter): Promise<OutboxRecord[]>;
  countNotifications(): Promise<OutboxCounts>;
}
