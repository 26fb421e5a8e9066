// The Notifier port over the outbox: `record` runs inside the transaction of
// the change and writes one row per channel that takes the notification (for
// email, one per recipient); `committed` runs after the commit, logs the
// notification (alerts at error level, as "ALERT: …") and wakes the delivery
// worker so the rows go out now.
//
// Email recipients: approvers are the request's approver users and the
// `users:` entries in its approver groups, never the requester; the requester
// or holder is the request's user; alerts go to users with the admin role. A
// person's address is their `users:` entry's `email`, else the email claim of
// their latest live sign-in. People the broker cannot name (a provider group
// with no `users:` entries) are reached through the chat channels.

import type { Catalog } from '../core/types.js';
import { alertKinds, type Audience, type Notification, type OutboxRecord } from '../core/notify/notification.js';
import type { Logger, Notifier, StoreTx } from '../core/ports.js';
import { randomId } from '../core/ids.js';
import { routes, type Channel } from './channel.js';

const approverKinds = new Set(['request.pending', 'request.reminder', 'request.escalated']);
const requesterKinds = new Set(['request.pending', 'request.approved', 'request.denied', 'request.expired-unapproved']);
const holderKinds = new Set(['grant.active', 'grant.expiring', 'grant.revoked']);
const adminKinds = new Set(['grant.revoke-failing', 'grant.revoke-recovered', 'grant.break-glass']);

export async function emailRecipients(tx: StoreTx, catalog: Catalog, n: Notification): Promise<{ address: string; audience: Audience }[]> {
  const out = new Map<string, Audience>();
  const addressOf = async (name: string): Promise<string | null> => {
    const configured = catalog.users.get(name)?.email;
    if (configured) return configured;
    const live = await tx.listLiveSignIns(name);
    return (
      live
        .map((s) => s.email)
        .filter((e): e is string => !!e)
        .at(-1) ?? null
    );
  };
  const add = async (name: string, audience: Audience) => {
    const a = await addressOf(name);
    if (a && !out.has(a.toLowerCase())) out.set(a.toLowerCase(), audience);
  };
  const r = n.requestId ? await tx.getRequest(n.requestId) : undefined;
  if (r && approverKinds.has(n.kind)) {
    const names = new Set(r.approverUsers);
    for (const u of catalog.users.values()) if (u.groups.some((g) => r.approverGroups.includes(g))) names.add(u.name);
    names.delete(r.user);
    for (const name of [...names].sort()) await add(name, 'approver');
  }
  if (n.user && requesterKinds.has(n.kind)) await add(n.user, 'requester');
  // A cancellation by someone else is news to the requester; the approvers learn they need not act.
  if (r && n.kind === 'request.cancelled') {
    if (n.by !== r.user) await add(r.user, 'requester');
    for (const name of [...r.approverUsers].sort()) if (name !== r.user) await add(name, 'approver');
  }
  if (n.user && holderKinds.has(n.kind)) await add(n.user, 'holder');
  if (adminKinds.has(n.kind)) {
    for (const u of [...catalog.users.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) if (u.admin) await add(u.name, 'admin');
  }
  return [...out].map(([address, audience]) => ({ address, audience }));
}

export function createOutboxNotifier(deps: {
  channels: readonly Channel[];
  catalog: () => Catalog;
  log: Logger;
  now: () => number;
  wake: () => void;
}): Notifier {
  return {
    async record(tx, n) {
      const eventId = `ntf_${randomId(16)}`;
      const now = deps.now();
      const rows: OutboxRecord[] = [];
      const row = (channel: string, recipient: string | null, audience: Audience | null): OutboxRecord => ({
        id: `nto_${randomId(16)}`,
        eventId,
        channel,
        recipient,
        audience,
        kind: n.kind,
        notification: n,
        status: 'pending',
        attempts: 0,
        createdAt: now,
        nextAttemptAt: now,
        leaseOwner: null,
        leaseUntil: null,
        lastError: null,
        deliveredAt: null,
      });
      for (const c of deps.channels) {
        if (!routes(c.routing, n)) continue;
        if (c.type !== 'email') rows.push(row(c.name, null, null));
        else for (const to of await emailRecipients(tx, deps.catalog(), n)) rows.push(row(c.name, to.address, to.audience));
      }
      await tx.insertNotifications(rows);
    },
    committed(n) {
      const entry = { notification: n.kind, requestId: n.requestId, grantId: n.grantId, user: n.user, target: n.target, profile: n.profile };
      if (alertKinds.includes(n.kind)) deps.log.error(entry, `ALERT: ${n.message}`);
      else deps.log.info(entry, n.message);
      deps.wake();
    },
  };
}
