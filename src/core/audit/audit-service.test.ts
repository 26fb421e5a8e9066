// Verification reads the whole chain, and any user may ask for it: runs go one
// at a time, and requests for a run already waiting or under way share it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditFilter, Store } from '../ports.js';
import { openStore } from '../../store/index.js';
import { createAuditService } from './audit-service.js';

describe('audit service verify', () => {
  let store: Store;
  const reads: (number | undefined)[] = [];

  before(async () => {
    store = await openStore({ kind: 'sqlite', path: ':memory:' });
    for (let i = 0; i < 2500; i++) await store.appendAudit({ at: 1_700_000_000_000 + i, actor: 'stint', action: 'test.event' });
  });
  after(() => store.close());

  const service = () =>
    createAuditService({
      store: {
        auditHead: () => store.auditHead(),
        listAudit: (f: AuditFilter) => {
          reads.push(f.afterSeq);
          return store.listAudit(f);
        },
      },
    });

  it('ten requests at once: one run over the chain, every one gets its result', async () => {
    reads.length = 0;
    const audit = service();
    const results = await Promise.all(Array.from({ length: 10 }, () => audit.verify()));
    for (const r of results) assert.equal(r.ok, true);
    assert.deepEqual(reads, [0, 1000, 2000], 'the chain was read once');
  });

  it('requests that differ (a checkpoint) run one after the other, never interleaved; a later request runs again', async () => {
    reads.length = 0;
    const audit = service();
    const head = (await store.auditHead())!;
    const [a, b] = await Promise.all([audit.verify(), audit.verify({ seq: head.seq, hash: head.hash })]);
    assert.equal(a.ok && b.ok, true);
    assert.deepEqual(reads, [0, 1000, 2000, 0, 1000, 2000]);
    await audit.verify();
    assert.equal(reads.length, 9, 'a finished run is not reused');
  });
});
