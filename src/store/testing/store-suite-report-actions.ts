// The access report's reads, continued (store-suite-report.ts): the `actions`
// filter keeps only the events a report row is built from, and paging with
// `after` across many pages (ties on createdAt included) visits every request
// of the period once, in (createdAt, id) order.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/ports.js';
import { makeGrant, makeRequest, t0 } from './fixtures.js';

export function reportActionsSuite(store: () => Store): void {
  describe('access report reads: actions filter and long paging', () => {
    it('actions keeps only the named events of the request and its grant; an empty list keeps none', async () => {
      const s = store();
      const g = makeGrant({ id: 'gr_x', requestId: 'req_x', createdAt: t0 + 2 });
      await s.insertRequest(makeRequest({ id: 'req_x', createdAt: t0 + 1, grantId: g.id, status: 'approved' }));
      await s.insertGrant(g);
      await s.appendAudit({ at: t0 + 1, actor: 'alice', action: 'request.created', requestId: 'req_x' });
      await s.appendAudit({ at: t0 + 2, actor: 'stint', action: 'grant.activated', requestId: 'req_x', grantId: g.id });
      await s.appendAudit({ at: t0 + 3, actor: 'alice', action: 'session.started', grantId: g.id, details: { sessionId: 'ses_1' } });
      await s.appendAudit({ at: t0 + 4, actor: 'stint', action: 'grant.revoked', requestId: 'req_x', grantId: g.id });
      await s.appendAudit({ at: t0 + 5, actor: 'stint', action: 'grant.revoked', requestId: 'req_other' });
      const q = { from: t0, to: t0 + 100, limit: 10 };
      const [item] = await s.reportPage({ ...q, actions: ['session.started', 'grant.revoked'] });
      assert.deepEqual(
        item!.events.map((e) => [e.action, e.at - t0]),
        [
          ['session.started', 3],
          ['grant.revoked', 4],
        ],
      );
      assert.deepEqual((await s.reportPage({ ...q, actions: [] }))[0]!.events, []);
      assert.equal((await s.reportPage(q))[0]!.events.length, 4, 'no filter: every event of the request and its grant');
    });

    it('paging by (createdAt, id) over many pages returns each request once, in order', async () => {
      const s = store();
      const ids: string[] = [];
      // 37 requests, three per millisecond, inserted out of order; pages of 5 end in the middle of ties.
      for (let i = 36; i >= 0; i--) {
        const id = `req_${String(i).padStart(3, '0')}`;
        ids.unshift(id);
        await s.insertRequest(makeRequest({ id, createdAt: t0 + 10 + Math.floor(i / 3) }));
      }
      await s.insertRequest(makeRequest({ id: 'req_before', createdAt: t0 + 9 }));
      const seen: string[] = [];
      let after: { createdAt: number; id: string } | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page = await s.reportPage({ from: t0 + 10, to: t0 + 100, limit: 5, after, actions: [] });
        seen.push(...page.map((p) => p.request.id));
        if (page.length < 5) break;
        const last = page[page.length - 1]!.request;
        after = { createdAt: last.createdAt, id: last.id };
      }
      assert.deepEqual(seen, ids);
    });
  });
}
