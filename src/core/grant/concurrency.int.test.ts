// Concurrency: two brokers on one store revoking the same grants, extend
// racing expiry, and a randomized interleaving of 10,000 extend / revoke /
// expire operations. Invariant after settling: no grant is revoked in the
// store and present on the target, every active grant's account exists, and
// each revoked grant has exactly one `grant.revoked` event.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createTestTarget, FakeClock, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import type { GrantRecord } from '../types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function managed(target: TestTarget): Promise<Set<string>> {
  const r = await target.superQuery(
    'SELECT u.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = $1 AND u.rolname <> $2',
    [target.marker, target.adminUser],
  );
  return new Set(r.rows.map((x) => x.rolname as string));
}

async function assertInvariant(broker: TestBroker, target: TestTarget, ids: Set<string>): Promise<void> {
  const all = (await broker.app.store.listGrants({ limit: 100_000 })).filter((g) => ids.has(g.id));
  const onTarget = await managed(target);
  for (const g of all) {
    assert.ok(g.status === 'active' || g.status === 'revoked', `${g.id} settled (${g.status})`);
    if (g.status === 'revoked') assert.ok(!onTarget.has(g.account), `${g.id} revoked in the store but ${g.account} is on the target`);
    else assert.ok(onTarget.has(g.account), `${g.id} active but ${g.account} is missing`);
  }
  const events = await broker.app.store.listAudit({ action: 'grant.revoked', limit: 100_000 });
  const per = new Map<string, number>();
  for (const e of events) if (e.grantId && ids.has(e.grantId)) per.set(e.grantId, (per.get(e.grantId) ?? 0) + 1);
  for (const g of all.filter((x) => x.status === 'revoked')) assert.equal(per.get(g.id), 1, `${g.id} has exactly one revoked event`);
}

describe('concurrency', () => {
  let target: TestTarget;

  before(async () => {
    target = await createTestTarget();
  });
  after(async () => {
    await target?.drop();
  });

  it('two brokers on one store expire the same grants: each revoked once, no error loops', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'stint-two-'));
    const a = await startTestBroker({ target, dataDir });
    const b = await startTestBroker({ target, dataDir });
    try {
      const alice = await a.token('alice');
      const ids = new Set<string>();
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          const r = await a.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '1s' });
          assert.equal(r.status, 201, r.raw);
          ids.add(r.body.grant.id);
        }),
      );
      const deadline = Date.now() + 20_000;
      while ((await a.app.store.listGrants({ statuses: ['active', 'revoking', 'revoke-failing'] })).length > 0) {
        assert.ok(Date.now() < deadline, 'all expired grants revoked');
        await sleep(100);
      }
      await assertInvariant(a, target, ids);
      const failures = [...a.logs, ...b.logs].filter((l) => l.includes('revocation failed'));
      assert.deepEqual(failures, [], 'no failed revocations');
    } finally {
      await a.close();
      await b.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('extend racing expiry: one of them wins, and the store and target agree', async () => {
    const clock = new FakeClock();
    const broker = await startTestBroker({ target, clock });
    try {
      const alice = await broker.token('alice');
      const aliceDef = broker.app.catalog.users.get('alice')!;
      const ids = new Set<string>();
      const outcomes = { extended: 0, expired: 0 };
      for (let i = 0; i < 20; i++) {
        const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '1m' })).body.grant;
        ids.add(g.id);
        clock.advance(60_000);
        const [ext] = await Promise.allSettled([broker.app.grants.extend({ grantId: g.id, actor: aliceDef, byMs: 60_000 }), broker.app.worker.runOnce()]);
        await broker.app.worker.runOnce();
        const cur = (await broker.app.store.getGrant(g.id))!;
        if (ext.status === 'fulfilled') {
          outcomes.extended++;
          assert.equal(cur.status, 'active');
        } else {
          outcomes.expired++;
          assert.match(String(ext.reason.message), /no longer active|not active|changed while extending/);
          assert.equal(cur.status, 'revoked');
        }
      }
      await assertInvariant(broker, target, ids);
      clock.advance(3_600_000);
      await broker.app.worker.runOnce();
    } finally {
      await broker.close();
    }
  });

  it('randomized: 10,000 interleaved extend / revoke / expire operations keep store and target in agreement', async () => {
    const clock = new FakeClock();
    const broker = await startTestBroker({ target, clock });
    try {
      const alice = await broker.token('alice');
      const aliceDef = broker.app.catalog.users.get('alice')!;
      const ids: string[] = [];
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 20 }, async () => {
            const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: `${1 + Math.floor(Math.random() * 20)}m` });
            ids.push(r.body.grant.id);
          }),
        );
      }
      const op = fc.oneof(
        fc.record({ kind: fc.constant('extend' as const), i: fc.nat(ids.length - 1), by: fc.integer({ min: 1, max: 30 }) }),
        fc.record({ kind: fc.constant('revoke' as const), i: fc.nat(ids.length - 1) }),
        fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1000, max: 90_000 }) }),
        fc.record({ kind: fc.constant('expire' as const) }),
      );
      const plan = fc.sample(fc.array(op, { minLength: 10_000, maxLength: 10_000 }), { numRuns: 1, seed: 42 })[0]!;
      const counts: Record<string, number> = {};
      // 16 operations at a time, in plan order, so operations really race.
      for (let i = 0; i < plan.length; i += 16) {
        await Promise.allSettled(
          plan.slice(i, i + 16).map(async (o) => {
            counts[o.kind] = (counts[o.kind] ?? 0) + 1;
            if (o.kind === 'extend') return broker.app.grants.extend({ grantId: ids[o.i]!, actor: aliceDef, byMs: o.by * 60_000 });
            if (o.kind === 'revoke') return broker.app.grants.revoke({ grantId: ids[o.i]!, actor: aliceDef });
            if (o.kind === 'tick') return clock.advance(o.ms);
            return broker.app.worker.runOnce();
          }),
        );
      }
      assert.equal(
        Object.values(counts).reduce((a, b) => a + b, 0),
        10_000,
      );
      // Settle: let whatever is due be done.
      for (let i = 0; i < 50; i++) {
        await broker.app.worker.runOnce();
        const open = await broker.app.store.listGrants({ statuses: ['provisioning', 'revoking', 'revoke-failing'] });
        if (open.length === 0) break;
        clock.advance(10_000);
      }
      await assertInvariant(broker, target, new Set(ids));
      const final = await broker.app.store.listGrants({ limit: 100_000 });
      const byStatus = (s: GrantRecord['status']) => final.filter((g) => ids.includes(g.id) && g.status === s).length;
      assert.ok(byStatus('revoked') > 0, 'the plan revoked or expired some grants');
    } finally {
      await broker.close();
    }
  });
});
