// The access report's reads (ReportStore.reportPage) in the Store compliance
// suite (store-suite.ts): `store()` is the fresh, migrated store of the running test.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ReportItem, Store } from '../../core/ports.js';
import { makeGrant, makeRequest, t0 } from './fixtures.js';

export function reportSuite(store: () => Store): void {
  describe('access report reads', () => {
    it('pages requests of a period in (createdAt, id) order, each with its approvals, grant, break-glass record and events', async () => {
      const s = store();
      // Five requests; two share a creation time, one is before the period and one at its end (excluded).
      const reqs = [
        makeRequest({ id: 'req_b', createdAt: t0 + 10, user: 'bob', target: 'pg-a' }),
        makeRequest({ id: 'req_a', createdAt: t0 + 10, target: 'pg-b' }),
        makeRequest({ id: 'req_c', createdAt: t0 + 20, target: 'pg-a' }),
        makeRequest({ id: 'req_early', createdAt: t0 - 1 }),
        makeRequest({ id: 'req_late', createdAt: t0 + 100 }),
      ];
      const g = makeGrant({ id: 'gr_c', requestId: 'req_c', createdAt: t0 + 21 });
      reqs[2]!.grantId = g.id;
      reqs[2]!.status = 'approved';
      for (const r of reqs) await s.insertRequest(r);
      await s.insertGrant(g);
      await s.insertApproval({ requestId: 'req_c', approver: 'carol', decision: 'approve', comment: 'ok', at: t0 + 21 });
      await s.insertApproval({ requestId: 'req_b', approver: 'dave', decision: 'deny', comment: 'no', at: t0 + 30 });
      await s.insertBreakGlass({
        grantId: g.id,
        requestId: 'req_c',
        user: 'alice',
        profile: 'pg-read',
        target: 'pg-a',
        reason: 'INC-1',
        createdAt: t0 + 21,
        reviewedAt: null,
        reviewedBy: null,
        reviewComment: null,
      });
      await s.appendAudit({ at: t0 + 20, actor: 'alice', action: 'request.created', requestId: 'req_c' });
      await s.appendAudit({ at: t0 + 22, actor: 'stint', action: 'grant.activated', requestId: 'req_c', grantId: g.id });
      await s.appendAudit({ at: t0 + 23, actor: 'alice', action: 'session.started', grantId: g.id, details: { sessionId: 'ses_x' } });
      await s.appendAudit({ at: t0 + 24, actor: 'bob', action: 'request.created', requestId: 'req_b' });
      await s.appendAudit({ at: t0 + 25, actor: 'stint', action: 'unrelated' });

      const q = { from: t0, to: t0 + 100 };
      const page1 = await s.reportPage({ ...q, limit: 2 });
      assert.deepEqual(
        page1.map((i) => i.request.id),
        ['req_a', 'req_b'],
      );
      const last = page1[1]!.request;
      const page2 = await s.reportPage({ ...q, limit: 2, after: { createdAt: last.createdAt, id: last.id } });
      assert.deepEqual(
        page2.map((i) => i.request.id),
        ['req_c'],
      );
      const c: ReportItem = page2[0]!;
      assert.deepEqual(c.request, reqs[2]);
      assert.deepEqual(c.grant, g);
      assert.deepEqual(
        c.approvals.map((a) => [a.approver, a.decision, a.comment]),
        [['carol', 'approve', 'ok']],
      );
      assert.equal(c.breakGlass?.reason, 'INC-1');
      // Events naming the request, and those naming only its grant.
      assert.deepEqual(
        c.events.map((e) => e.action),
        ['request.created', 'grant.activated', 'session.started'],
      );
      const b = page1[1]!;
      assert.equal(b.grant, null);
      assert.equal(b.breakGlass, null);
      assert.deepEqual(
        b.events.map((e) => e.action),
        ['request.created'],
      );
      assert.deepEqual(await s.reportPage({ ...q, limit: 2, after: { createdAt: t0 + 20, id: 'req_c' } }), []);

      assert.deepEqual(
        (await s.reportPage({ ...q, limit: 10, target: 'pg-a' })).map((i) => i.request.id),
        ['req_b', 'req_c'],
      );
      assert.deepEqual(
        (await s.reportPage({ ...q, limit: 10, user: 'bob' })).map((i) => i.request.id),
        ['req_b'],
      );
    });
  });
}
