// Verification reads the whole chain, and any user may ask for it: runs go one
// at a time, every request waiting for the next run is checked in one pass
// (each against its own checkpoint), and requests for a checkpoint already
// waiting share its result.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StintError } from '../errors.js';
import type { AuditFilter, Store } from '../ports.js';
import type { AuditEvent } from '../types.js';
import { openStore } from '../../store/index.js';
import { createAuditService, maxWaitingCheckpoints } from './audit-service.js';
import { verifyChain } from './chain.js';

/** A store that serves `events` as listAudit pages, counting the reads. */
function over(events: () => AuditEvent[], reads: (number | undefined)[]) {
  return {
    auditHead: async () => null,
    listAudit: async (f: AuditFilter) => {
      reads.push(f.afterSeq);
      return events()
        .filter((e) => e.seq > (f.afterSeq ?? 0))
        .slice(0, f.limit);
    },
  } satisfies Pick<Store, 'listAudit' | 'auditHead'>;
}

describe('audit service verify', () => {
  let store: Store;
  let chain: AuditEvent[];

  before(async () => {
    store = await openStore({ kind: 'sqlite', path: ':memory:' });
    for (let i = 0; i < 2500; i++) await store.appendAudit({ at: 1_700_000_000_000 + i, actor: 'stint', action: 'test.event', details: { i } });
    chain = await store.listAudit({ limit: 5000 });
  });
  after(() => store.close());

  it('ten requests at once: one pass over the chain, every one gets its result', async () => {
    const reads: (number | undefined)[] = [];
    const audit = createAuditService({ store: over(() => chain, reads) });
    const results = await Promise.all(Array.from({ length: 10 }, () => audit.verify()));
    for (const r of results) assert.equal(r.ok, true);
    assert.deepEqual(reads, [0, 1000, 2000], 'the chain was read once');
  });

  it('different checkpoints waiting together: one pass, each its own answer; a later request reads again', async () => {
    const reads: (number | undefined)[] = [];
    const audit = createAuditService({ store: over(() => chain, reads) });
    const e = chain[1999]!;
    const [plain, good, rewritten, beyond] = await Promise.all([
      audit.verify(),
      audit.verify({ seq: e.seq, hash: e.hash }),
      audit.verify({ seq: e.seq, hash: 'f'.repeat(64) }),
      audit.verify({ seq: 9999, hash: e.hash }),
    ]);
    assert.equal(plain.ok && good.ok, true);
    assert.equal(!rewritten.ok && rewritten.firstBadSeq, e.seq);
    assert.equal(!beyond.ok && beyond.problem?.includes('truncated'), true);
    assert.deepEqual(reads, [0, 1000, 2000]);
    await audit.verify();
    assert.equal(reads.length, 6, 'a finished run is not reused');
  });

  it(`at most ${maxWaitingCheckpoints} different checkpoints wait; one more is refused with a reason`, async () => {
    const audit = createAuditService({ store: over(() => chain, []) });
    const asks = Array.from({ length: maxWaitingCheckpoints + 1 }, (_, i) => audit.verify({ seq: i + 1, hash: chain[i]!.hash }));
    const outcomes = await Promise.allSettled(asks);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled' && o.value.ok).length, maxWaitingCheckpoints);
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    assert.ok(refused.reason instanceof StintError && refused.reason.code === 'conflict');
    assert.match(refused.reason.message, /waiting already; try again/);
  });

  it('property: every answer of a shared pass is what verifying alone gives, whatever was done to the chain', async () => {
    const small = chain.slice(0, 30);
    const tamper = fc.oneof(
      fc.constant((es: AuditEvent[]) => es),
      fc.nat(29).map((i) => (es: AuditEvent[]) => es.filter((_, j) => j !== i)),
      fc.nat(29).map((i) => (es: AuditEvent[]) => es.map((e, j) => (j === i ? { ...e, actor: 'mallory' } : e))),
      fc.nat(28).map((i) => (es: AuditEvent[]) => es.map((e, j) => (j === i ? es[i + 1]! : j === i + 1 ? es[i]! : e))),
      fc.nat(29).map((n) => (es: AuditEvent[]) => es.slice(0, n)),
    );
    const checkpoint = fc.oneof(
      fc.constant(undefined),
      fc.nat(29).map((i) => ({ seq: small[i]!.seq, hash: small[i]!.hash })),
      fc.record({ seq: fc.integer({ min: 1, max: 40 }), hash: fc.constantFrom('a'.repeat(64), small[3]!.hash) }),
    );
    await fc.assert(
      fc.asyncProperty(tamper, fc.array(checkpoint, { minLength: 1, maxLength: 6 }), async (change, cps) => {
        const events = change(small);
        const audit = createAuditService({ store: over(() => events, []) });
        const got = await Promise.all(cps.map((cp) => audit.verify(cp)));
        assert.deepEqual(
          got,
          cps.map((cp) => verifyChain(events, cp)),
        );
      }),
      { numRuns: 300 },
    );
  });
});
