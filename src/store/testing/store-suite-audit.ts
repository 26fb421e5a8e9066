// The audit chain and transactions part of the Store compliance suite
// (store-suite.ts): `store()` is the fresh, migrated store of the running test.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyChain } from '../../core/audit/chain.js';
import type { Store } from '../../core/ports.js';
import { hostileStrings, makeGrant, makeRequest, makeSshKey, makeToken, t0 } from './fixtures.js';

export function auditAndTransactionSuite(store: () => Store): void {
  describe('audit chain', () => {
    it('appends a verifiable chain and lists it back exactly', async () => {
      assert.equal(await store().auditHead(), null);
      const appended = [];
      appended.push(
        await store().appendAudit({
          at: t0,
          actor: 'alice',
          action: 'request.created',
          requestId: 'req_1',
          subjectUser: 'alice',
          target: 't1',
          details: { b: 1, a: [1, 'two', null], nested: { z: hostileStrings[7], y: true } },
        }),
      );
      appended.push(await store().appendAudit({ at: t0 + 1, actor: hostileStrings[0]!, action: 'grant.revoked' }));
      appended.push(
        await store().appendAudit({ at: t0 + 2, actor: 'stint', action: 'grant.activated', grantId: 'gr_1', details: { when: new Date(t0), gone: undefined } }),
      );
      assert.deepEqual(
        appended.map((e) => e.seq),
        [1, 2, 3],
      );
      assert.deepEqual(appended[1]!.requestId, null);
      assert.deepEqual(appended[1]!.details, {});
      // Details are stored as JSON: a Date becomes its ISO string, undefined disappears, and the hash covers that.
      assert.deepEqual(appended[2]!.details, { when: new Date(t0).toISOString() });
      const listed = await store().listAudit({});
      assert.deepEqual(listed, appended);
      const result = verifyChain(listed, { seq: 3, hash: appended[2]!.hash });
      assert.equal(result.ok, true);
      assert.deepEqual(await store().auditHead(), { seq: 3, hash: appended[2]!.hash });
    });

    it('listAudit filters and pages in seq order', async () => {
      const inputs = [
        { at: t0 + 10, actor: 'a', action: 'x', subjectUser: 'alice', target: 't1' },
        { at: t0 + 20, actor: 'a', action: 'y', subjectUser: 'bob', target: 't1' },
        { at: t0 + 30, actor: 'a', action: 'x', subjectUser: 'alice', target: 't2' },
        { at: t0 + 40, actor: 'a', action: 'x', subjectUser: null, target: null },
      ];
      for (const i of inputs) await store().appendAudit(i);
      const seqs = async (f: Parameters<Store['listAudit']>[0]) => (await store().listAudit(f)).map((e) => e.seq);
      assert.deepEqual(await seqs({ afterSeq: 2 }), [3, 4]);
      assert.deepEqual(await seqs({ since: t0 + 20, until: t0 + 30 }), [2, 3]);
      assert.deepEqual(await seqs({ action: 'x' }), [1, 3, 4]);
      assert.deepEqual(await seqs({ subjectUser: 'alice' }), [1, 3]);
      assert.deepEqual(await seqs({ target: 't1' }), [1, 2]);
      assert.deepEqual(await seqs({ action: 'x', afterSeq: 1, limit: 1 }), [3]);
      assert.deepEqual(await seqs({ subjectUser: hostileStrings[0] }), []);
    });

    it('concurrent appends from many transactions form one gap-free, valid chain', async () => {
      await store().appendAudit({ at: t0, actor: 'stint', action: 'start' });
      const inTx = Array.from({ length: 50 }, (_, i) =>
        store().transaction(async (tx) => {
          await tx.setMeta(`k${i}`, String(i));
          return tx.appendAudit({ at: t0 + i, actor: `worker${i}`, action: 'tx.append', details: { i } });
        }),
      );
      const bare = Array.from({ length: 50 }, (_, i) => store().appendAudit({ at: t0 + i, actor: `bare${i}`, action: 'bare.append' }));
      const events = await Promise.all([...inTx, ...bare]);
      assert.deepEqual(
        events.map((e) => e.seq).sort((a, b) => a - b),
        Array.from({ length: 100 }, (_, i) => i + 2),
      );
      const listed = await store().listAudit({});
      assert.deepEqual(
        listed.map((e) => e.seq),
        Array.from({ length: 101 }, (_, i) => i + 1),
      );
      const result = verifyChain(listed);
      assert.ok(result.ok, JSON.stringify(result));
      assert.deepEqual(await store().auditHead(), { seq: 101, hash: listed[100]!.hash });
    });

    it('several appends in one transaction, racing other transactions, commit as one consecutive run of the chain', async () => {
      await store().appendAudit({ at: t0, actor: 'stint', action: 'start' });
      const runs = Array.from({ length: 20 }, (_, i) =>
        store().transaction(async (tx) => {
          const mine = [];
          for (let k = 0; k < 3; k++) mine.push(await tx.appendAudit({ at: t0 + i, actor: `worker${i}`, action: 'tx.append', details: { i, k } }));
          // Reads inside the transaction see what it appended.
          const head = await tx.auditHead();
          assert.deepEqual(head, { seq: mine[2]!.seq, hash: mine[2]!.hash });
          assert.deepEqual(
            (await tx.listAudit({ afterSeq: mine[0]!.seq - 1 })).map((e) => e.seq),
            mine.map((e) => e.seq),
          );
          mine.push(await tx.appendAudit({ at: t0 + i, actor: `worker${i}`, action: 'tx.after-read', details: { i } }));
          return mine;
        }),
      );
      const all = await Promise.all(runs);
      for (const mine of all)
        assert.deepEqual(
          mine.map((e) => e.seq - mine[0]!.seq),
          [0, 1, 2, 3],
          "one transaction's events are consecutive",
        );
      const listed = await store().listAudit({});
      assert.equal(listed.length, 81);
      assert.deepEqual(
        listed.slice(1),
        all.flat().sort((a, b) => a.seq - b.seq),
        'what appendAudit returned is what was stored',
      );
      assert.ok(verifyChain(listed).ok);
    });

    it('a transaction appending more events than one insert statement carries forms a valid chain', async () => {
      const n = 1203;
      const events = await store().transaction(async (tx) => {
        const out = [];
        for (let i = 0; i < n; i++) out.push(await tx.appendAudit({ at: t0 + i, actor: 'stint', action: 'bulk', details: { i } }));
        return out;
      });
      const listed = await store().listAudit({});
      assert.deepEqual(listed, events);
      assert.ok(verifyChain(listed, { seq: n, hash: events[n - 1]!.hash }).ok);
      assert.equal((await store().appendAudit({ at: t0, actor: 'stint', action: 'next' })).seq, n + 1);
    });
  });

  describe('transactions', () => {
    it('lock(key): a count and the insert that depends on it, run 20 times at once over two keys, stay exact for each', async () => {
      const addIfRoom = (user: string) =>
        store().transaction(async (tx) => {
          await tx.lock(`ssh-keys:${user}`);
          if ((await tx.listSshKeys(user)).length >= 5) return false;
          await tx.insertSshKey(makeSshKey({ user }));
          return true;
        });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => addIfRoom(i % 2 ? 'locked-a' : 'locked-b')));
      assert.equal(results.filter(Boolean).length, 10);
      assert.equal((await store().listSshKeys('locked-a')).length, 5);
      assert.equal((await store().listSshKeys('locked-b')).length, 5);
    });

    it('a throw rolls back every change, including the audit event', async () => {
      const kept = makeGrant();
      await store().insertGrant(kept);
      await store().appendAudit({ at: t0, actor: 'stint', action: 'before' });
      const headBefore = await store().auditHead();
      const boom = new Error('boom');
      const r = makeRequest();
      const g = makeGrant();
      const tok = makeToken();
      await assert.rejects(
        store().transaction(async (tx) => {
          await tx.insertRequest(r);
          await tx.insertApproval({ requestId: r.id, approver: 'bob', decision: 'approve', comment: null, at: t0 });
          await tx.insertGrant(g);
          assert.equal(await tx.casGrant(kept.id, 1, { status: 'revoking' }), true);
          await tx.appendAudit({ at: t0, actor: 'stint', action: 'inside' });
          await tx.insertToken(tok);
          await tx.setMeta('m', 'v');
          await tx.putTargetCredential('t1', 'sealed', t0);
          assert.ok(await tx.getGrant(g.id), 'a transaction sees its own writes');
          throw boom;
        }),
        (err) => err === boom,
      );
      assert.equal(await store().getRequest(r.id), undefined);
      assert.deepEqual(await store().listApprovals(r.id), []);
      assert.equal(await store().getGrant(g.id), undefined);
      assert.deepEqual(await store().getGrant(kept.id), kept);
      assert.equal(await store().findTokenByHash(tok.hash), undefined);
      assert.equal(await store().getMeta('m'), undefined);
      assert.equal(await store().getTargetCredential('t1'), undefined);
      assert.deepEqual(
        (await store().listAudit({})).map((e) => e.action),
        ['before'],
      );
      assert.deepEqual(await store().auditHead(), headBefore);
      // The chain continues from the last committed event.
      assert.equal((await store().appendAudit({ at: t0, actor: 'stint', action: 'after' })).seq, 2);
      assert.ok(verifyChain(await store().listAudit({})).ok);
    });

    it('of many concurrent transactions, those that throw leave nothing behind and the others all commit', async () => {
      const boom = new Error('boom');
      const grants = Array.from({ length: 30 }, () => makeGrant());
      const results = await Promise.allSettled(
        grants.map((g, i) =>
          store().transaction(async (tx) => {
            await tx.insertGrant(g);
            await tx.setMeta(`k${i}`, String(i));
            const e = await tx.appendAudit({ at: t0 + i, actor: 'stint', action: 'grant.created', grantId: g.id });
            if (i % 3 === 1) throw boom;
            return e.seq;
          }),
        ),
      );
      for (const [i, r] of results.entries()) {
        if (i % 3 === 1) assert.ok(r.status === 'rejected' && r.reason === boom, `transaction ${i} rejects with its own error`);
        else assert.equal(r.status, 'fulfilled', `transaction ${i} commits`);
      }
      for (const [i, g] of grants.entries()) {
        const kept = i % 3 !== 1;
        assert.equal((await store().getGrant(g.id)) !== undefined, kept, `grant ${i}`);
        assert.equal(await store().getMeta(`k${i}`), kept ? String(i) : undefined, `meta ${i}`);
      }
      const events = await store().listAudit({});
      assert.equal(events.length, 20);
      assert.deepEqual(new Set(events.map((e) => e.grantId)), new Set(grants.filter((_, i) => i % 3 !== 1).map((g) => g.id)));
      // The seqs handed out by the committed ones are exactly the chain.
      const seqs = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])).sort((a, b) => a - b);
      assert.deepEqual(
        seqs,
        events.map((e) => e.seq),
      );
      assert.ok(verifyChain(events).ok);
    });

    it('commits everything together and returns the callback result', async () => {
      const g = makeGrant();
      const out = await store().transaction(async (tx) => {
        await tx.insertGrant(g);
        const e = await tx.appendAudit({ at: t0, actor: 'stint', action: 'grant.created', grantId: g.id });
        return e.seq;
      });
      assert.equal(out, 1);
      assert.deepEqual(await store().getGrant(g.id), g);
      assert.equal((await store().listAudit({}))[0]?.grantId, g.id);
    });
  });
}
