// The notification outbox over the in-memory tables, with the SQL stores'
// unique key (event, channel, recipient), claim order and lease rules
// (store/outbox-tx.ts).

import type { OutboxCounts, OutboxFilter, OutboxOutcome, OutboxRecord } from '../../core/notify/notification.js';
import { byKeys, copy, duplicate, take } from './memory-state.js';

const dueFirst = byKeys<OutboxRecord>([(r) => r.nextAttemptAt, (r) => r.id]);
const newestFirst = byKeys<OutboxRecord>([(r) => r.createdAt, (r) => r.id], true);

export function insertOutbox(map: Map<string, OutboxRecord>, rows: readonly OutboxRecord[]): void {
  for (const r of rows) {
    const key = `${r.eventId}\u0000${r.channel}\u0000${r.recipient ?? ''}`;
    if (map.has(r.id) || [...map.values()].some((x) => `${x.eventId}\u0000${x.channel}\u0000${x.recipient ?? ''}` === key))
      throw duplicate('notifications', r.id);
    map.set(r.id, copy(r));
  }
}

export function claimOutbox(map: Map<string, OutboxRecord>, owner: string, now: number, leaseUntil: number, limit: number): OutboxRecord[] {
  const due = [...map.values()]
    .filter((r) => r.status === 'pending' && r.nextAttemptAt <= now && (r.leaseUntil === null || r.leaseUntil <= now))
    .sort(dueFirst);
  return take(due, limit).map((r) => {
    const claimed = { ...r, leaseOwner: owner, leaseUntil };
    map.set(r.id, claimed);
    return copy(claimed);
  });
}

export function settleOutbox(map: Map<string, OutboxRecord>, id: string, owner: string, o: OutboxOutcome): boolean {
  const r = map.get(id);
  if (!r || r.leaseOwner !== owner || r.status !== 'pending') return false;
  map.set(id, { ...r, ...copy(o), leaseOwner: null, leaseUntil: null });
  return true;
}

export function listOutbox(map: Map<string, OutboxRecord>, filter: OutboxFilter): OutboxRecord[] {
  const match = (r: OutboxRecord) =>
    filter.state === undefined ||
    (filter.state === 'failing' ? r.status === 'failed' || (r.status === 'pending' && r.attempts > 0) : r.status === filter.state);
  return take([...map.values()].filter(match).sort(newestFirst), filter.limit).map(copy);
}

export function countOutbox(map: Map<string, OutboxRecord>): OutboxCounts {
  const out: OutboxCounts = { pending: 0, retrying: 0, failed: 0 };
  for (const r of map.values()) {
    if (r.status === 'pending') {
      out.pending++;
      if (r.attempts > 0) out.retrying++;
    } else if (r.status === 'failed') out.failed++;
  }
  return out;
}
