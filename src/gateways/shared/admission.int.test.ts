// The cap on session-bound grants one person holds at once (each is an
// account on a target): logins made at the same moment cannot all pass it.
// Through the real broker against a real PostgreSQL.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import { Refusal, admit } from './admission.js';

describe('gateway admission: sessions per user', () => {
  let target: TestTarget;
  let broker: TestBroker;
  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  it('five logins at once with a cap of three: three get an account, two are refused, and the cap holds after', async () => {
    const app = broker.app;
    const alice = app.catalog.users.get('alice')!;
    const deps = {
      catalog: () => app.catalog,
      requests: app.requests,
      grants: app.grants,
      store: app.store,
      clock: { now: () => Date.now() },
      maxSessionMs: 3_600_000,
      sessionLeaseMs: 60_000,
      maxSessionsPerUser: 3,
    };
    const gateway = { targetKind: 'postgres' as const, label: 'PostgreSQL', howToName: 'dbname=<profile>' };
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => admit(deps, gateway, alice, 'pg-read')));
    const admitted = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
    assert.equal(admitted.length, 3);
    for (const r of refused) {
      assert.ok(r instanceof Refusal, String(r));
      assert.match(r.message, /3 gateway sessions open/);
    }
    await assert.rejects(admit(deps, gateway, alice, 'pg-read'), /3 gateway sessions open/);
    // One ends: there is room for one more.
    await app.grants.revoke({ grantId: admitted[0]!.grant.id, actor: alice });
    const again = await admit(deps, gateway, alice, 'pg-read');
    for (const a of [...admitted.slice(1), again]) await app.grants.revoke({ grantId: a.grant.id, actor: alice });
  });
});
