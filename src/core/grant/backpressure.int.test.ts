// Behaviour 8 (backpressure): when many grants come due at once, their
// revocations run with at most `broker.revokeConcurrency` target operations in
// flight per target, the API keeps answering, and every one ends revoked.
// Against a real PostgreSQL target; nothing here asserts timing.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyChain } from '../audit/chain.js';
import type { Connector } from '../../connectors/contract.js';
import { FakeClock, createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts removeAccount calls in flight on each target's connector (and how many there were). */
function countInFlight(broker: TestBroker) {
  const registry = broker.app.connectors as { get(name: string): Connector };
  const realGet = registry.get.bind(registry);
  const seen = new Map<string, { now: number; max: number; calls: number }>();
  const wrapped = new Map<Connector, Connector>();
  registry.get = (name: string) => {
    const real = realGet(name);
    let w = wrapped.get(real);
    if (!w) {
      const c = { now: 0, max: 0, calls: 0 };
      seen.set(name, c);
      w = Object.assign(Object.create(real) as Connector, {
        async removeAccount(req: Parameters<Connector['removeAccount']>[0]) {
          c.now++;
          c.calls++;
          c.max = Math.max(c.max, c.now);
          try {
            const r = await real.removeAccount(req);
            // Hold the slot a little longer, so that waiting revocations pile up behind the bound.
            await sleep(15);
            return r;
          } finally {
            c.now--;
          }
        },
      });
      wrapped.set(real, w);
    }
    return w;
  };
  return seen;
}

describe('revocation storm (behaviour 8)', () => {
  let target: TestTarget;
  before(async () => {
    target = await createTestTarget();
  });
  after(async () => {
    await target?.drop();
  });

  it('never runs more than broker.revokeConcurrency removals on a target at once; all due grants end revoked and the API answers meanwhile', async () => {
    const limit = 3;
    const n = 40;
    const clock = new FakeClock();
    const broker = await startTestBroker({
      target,
      clock,
      editConfig: (text) => text.replace('broker:\n', `broker:\n  revokeConcurrency: ${limit}\n`),
    });
    try {
      const inFlight = countInFlight(broker);
      const alice = await broker.token('alice');
      const ids: string[] = [];
      const accounts: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m', reason: 'storm' });
        assert.equal(r.status, 201, r.raw);
        assert.equal(r.body.grant.status, 'active');
        ids.push(r.body.grant.id);
        accounts.push(r.body.grant.account);
      }
      for (const a of accounts.slice(0, 3)) assert.ok(await target.roleExists(a));

      // All of them due in the same instant.
      clock.advance(11 * 60_000);
      broker.app.worker.wake();
      // Check-ins arriving during the storm share the same bound.
      const checkIns = ids.slice(0, 5).map((id) => broker.call(alice, 'POST', `/v1/grants/${id}/revoke`));
      const admin = broker.adminToken;
      let polls = 0;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const r = await broker.call(admin, 'GET', '/v1/grants?all=true&limit=100');
        assert.equal(r.status, 200, 'the API answers during the storm');
        polls++;
        const open = r.body.grants.filter((g: { id: string }) => ids.includes(g.id));
        if (open.length === 0) break;
        assert.ok(Date.now() < deadline, `still ${open.length} open: ${JSON.stringify(open.slice(0, 3))}`);
        await sleep(20);
      }
      for (const r of await Promise.all(checkIns)) assert.equal(r.status, 200, r.raw);

      const c = inFlight.get('pg');
      assert.ok(c, 'the revocations went through the connector');
      assert.ok(c.max <= limit, `at most ${limit} removals at once, saw ${c.max}`);
      assert.equal(c.max, limit, 'the bound was reached: revocations waited for a slot rather than running one by one');
      assert.ok(c.calls >= n, `every grant was removed on the target (${c.calls} calls)`);
      assert.ok(polls > 1);

      for (const id of ids) {
        const g = (await broker.call(alice, 'GET', `/v1/grants/${id}`)).body.grant;
        assert.equal(g.status, 'revoked', `${id} is ${g.status}`);
        assert.ok(['expired', 'checked-in'].includes(g.revokeReason), g.revokeReason);
      }
      for (const a of accounts) assert.equal(await target.roleExists(a), false, `${a} is gone from the target`);
      const audit = await broker.app.store.listAudit({ action: 'grant.revoked' });
      assert.equal(new Set(audit.map((e) => e.grantId)).size, n, 'one grant.revoked event per grant');
      assert.ok(verifyChain(await broker.app.store.listAudit({})).ok);
    } finally {
      await broker.close();
    }
  });
});
