// Compliance cases for the notification outbox (core/notify/notification.ts):
// round trip, one row per channel and recipient per notification, rollback
// with the change, claims that never hand one row to two brokers, leases
// that run out, settles only by the holder, the failing view and counts.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/ports.js';
import type { OutboxRecord } from '../../core/notify/notification.js';
import { hostileStrings, t0 } from './fixtures.js';

let seq = 0;
export function makeOutboxRow(over: Partial<OutboxRecord> = {}): OutboxRecord {
  seq++;
  return {
    id: `nto_${String(seq).padStart(6, '0')}`,
    eventId: `ntf_${seq}`,
    channel: 'email',
    recipient: 'bob@example.com',
    audience: 'approver',
    kind: 'request.pending',
    notification: { kind: 'request.pending', at: t0, requestId: 'req_1', user: 'alice', reason: hostileStrings[0], message: 'alice requests pg-ro' },
    status: 'pending',
    attempts: 0,
    createdAt: t0,
    nextAttemptAt: t0,
    leaseOwner: null,
    leaseUntil: null,
    lastError: null,
    deliveredAt: null,
    ...over,
  };
}

export function outboxSuite(store: () => Store): void {
  describe('notification outbox', () => {
    it('round-trips every field, with and without a recipient', async () => {
      const a = makeOutboxRow();
      const b = makeOutboxRow({
        channel: 'slack:ops',
        recipient: null,
        audience: null,
        attempts: 2,
        lastError: 'receiver answered 503',
        nextAttemptAt: t0 + 9,
      });
      await store().insertNotifications([a, b]);
      assert.deepEqual(
        await store().listNotifications({}),
        [b, a].sort((x, y) => (x.id < y.id ? 1 : -1)),
      );
    });

    it('refuses a second row for the same notification, channel and recipient; the whole insert fails', async () => {
      const a = makeOutboxRow();
      await store().insertNotifications([a]);
      await assert.rejects(store().insertNotifications([makeOutboxRow(), makeOutboxRow({ eventId: a.eventId })]));
      assert.equal((await store().listNotifications({})).length, 1);
      await store().insertNotifications([makeOutboxRow({ eventId: a.eventId, recipient: 'carol@example.com' })]);
      assert.equal((await store().listNotifications({})).length, 2);
    });

    it('rolls back with the transaction that wrote it', async () => {
      await assert.rejects(
        store().transaction(async (tx) => {
          await tx.insertNotifications([makeOutboxRow()]);
          throw new Error('the change failed');
        }),
      );
      assert.deepEqual(await store().listNotifications({}), []);
    });

    it('claims due, unleased rows oldest first; a second claimer gets none of them until the lease runs out', async () => {
      const due = [makeOutboxRow({ nextAttemptAt: t0 + 2 }), makeOutboxRow({ nextAttemptAt: t0 + 1 })];
      const later = makeOutboxRow({ nextAttemptAt: t0 + 100 });
      const done = makeOutboxRow({ status: 'delivered', deliveredAt: t0 });
      await store().insertNotifications([...due, later, done]);
      const first = await store().claimNotifications('broker-a', t0 + 10, t0 + 50, 10);
      assert.deepEqual(
        first.map((r) => r.id),
        [due[1]!.id, due[0]!.id],
      );
      assert.ok(first.every((r) => r.leaseOwner === 'broker-a' && r.leaseUntil === t0 + 50));
      assert.deepEqual(await store().claimNotifications('broker-b', t0 + 20, t0 + 80, 10), []);
      // The lease ran out (broker-a died): broker-b takes them; broker-a can no longer settle them.
      const second = await store().claimNotifications('broker-b', t0 + 50, t0 + 90, 10);
      assert.equal(second.length, 2);
      const outcome = { status: 'delivered' as const, attempts: 1, nextAttemptAt: t0, lastError: null, deliveredAt: t0 + 60 };
      assert.equal(await store().settleNotification(due[0]!.id, 'broker-a', outcome), false);
      assert.equal(await store().settleNotification(due[0]!.id, 'broker-b', outcome), true);
      assert.equal(await store().settleNotification(due[0]!.id, 'broker-b', outcome), false, 'settled once');
      const [row] = (await store().listNotifications({ state: 'delivered' })).filter((r) => r.id === due[0]!.id);
      assert.deepEqual({ ...row!, notification: null }, { ...due[0]!, ...outcome, leaseOwner: null, leaseUntil: null, notification: null });
    });

    it('claims in parallel never hand one row to two claimers', async () => {
      const rows = Array.from({ length: 40 }, () => makeOutboxRow());
      await store().insertNotifications(rows);
      const got = await Promise.all(['a', 'b', 'c', 'd'].map((b) => store().claimNotifications(b, t0 + 1, t0 + 100, 15)));
      const ids = got.flat().map((r) => r.id);
      assert.equal(new Set(ids).size, ids.length);
      assert.equal(ids.length, 40);
    });

    it('lists the failing (retrying and given up) and counts what is not delivered', async () => {
      const retrying = makeOutboxRow({ attempts: 1, lastError: 'timeout' });
      const failed = makeOutboxRow({ status: 'failed', attempts: 3, lastError: 'receiver answered 404' });
      const fresh = makeOutboxRow();
      const done = makeOutboxRow({ status: 'delivered', attempts: 1, deliveredAt: t0 });
      await store().insertNotifications([retrying, failed, fresh, done]);
      assert.deepEqual(
        (await store().listNotifications({ state: 'failing' })).map((r) => r.id),
        [failed.id, retrying.id],
      );
      assert.deepEqual(
        (await store().listNotifications({ state: 'failing', limit: 1 })).map((r) => r.id),
        [failed.id],
      );
      assert.deepEqual(await store().countNotifications(), { pending: 2, retrying: 1, failed: 1 });
    });
  });
}
