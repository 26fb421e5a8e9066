import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, genesisHash, hashEvent, verifyChain, formatCheckpoint, parseCheckpoint } from './chain.js';
import type { AuditEvent } from '../types.js';

function chain(n: number): AuditEvent[] {
  const out: AuditEvent[] = [];
  let prev = genesisHash;
  for (let i = 1; i <= n; i++) {
    const e = {
      seq: i,
      at: 1_700_000_000_000 + i,
      actor: i % 2 ? 'alice' : 'stint',
      action: 'grant.activated',
      requestId: `req_${i}`,
      grantId: null,
      target: 'pg',
      subjectUser: 'alice',
      details: { n: i, roles: ['r'] },
      prevHash: prev,
    };
    const full = { ...e, hash: hashEvent(e) };
    out.push(full);
    prev = full.hash;
  }
  return out;
}

describe('audit hash chain', () => {
  it('hashes an event exactly as chains already stored were hashed', () => {
    // Pinned: stored chains must keep verifying whatever hashEvent's code looks like.
    const e = {
      seq: 7,
      at: 1_700_000_000_123,
      actor: 'alice',
      action: 'grant.activated',
      requestId: 'req_abc',
      grantId: 'gr_def',
      target: 'pg',
      subjectUser: 'alice',
      details: { roles: ['app_read'], account: 'stint_alice_x1', mode: 'ephemeral-account', nested: { z: 1, a: [null, 'ü', { b: 2 }] } },
      prevHash: 'ab'.repeat(32),
    };
    assert.equal(hashEvent(e), '97186a78a8f77792df27bc383911edebcd5d7b215f07ae62bb75eb3fc236e02e');
  });

  it('hashes the canonical JSON of the hashed fields, for any event', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        text,
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(text, tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    const event = fc.record({
      seq: fc.nat(),
      at: fc.nat(),
      actor: text,
      action: text,
      requestId: fc.option(text),
      grantId: fc.option(text),
      target: fc.option(text),
      subjectUser: fc.option(text),
      details: fc.dictionary(text, json, { maxKeys: 5 }),
      prevHash: fc.string({ minLength: 64, maxLength: 64 }),
    });
    fc.assert(
      fc.property(event, (e) => {
        const { seq, at, actor, action, requestId, grantId, target, subjectUser, details, prevHash } = e;
        const reference = createHash('sha256')
          .update(canonicalJson({ seq, at, actor, action, requestId, grantId, target, subjectUser, details, prevHash }))
          .digest('hex');
        assert.equal(hashEvent(e), reference);
      }),
      { numRuns: 300 },
    );
  });

  it('verifies an intact chain and reports its head', () => {
    const c = chain(5);
    const r = verifyChain(c);
    assert.deepEqual(r, { ok: true, events: 5, head: { seq: 5, hash: c[4]!.hash } });
    assert.deepEqual(verifyChain([]), { ok: true, events: 0, head: null });
  });

  it('detects an edited event and names it', () => {
    const c = chain(5);
    c[2] = { ...c[2]!, details: { n: 999, roles: ['r'] } };
    const r = verifyChain(c);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.firstBadSeq, 3);
    assert.match(!r.ok ? r.problem : '', /event 3 was modified/);
  });

  it("detects an edit even when the attacker recomputes that event's hash", () => {
    const c = chain(5);
    const edited = { ...c[1]!, actor: 'mallory' };
    c[1] = { ...edited, hash: hashEvent(edited) };
    const r = verifyChain(c);
    assert.equal(!r.ok && r.firstBadSeq, 3);
  });

  it('detects a deleted event', () => {
    const c = chain(5);
    c.splice(1, 1);
    const r = verifyChain(c);
    assert.equal(!r.ok && r.firstBadSeq, 2);
    assert.match(!r.ok ? r.problem : '', /event 2 is missing/);
  });

  it('detects reordered events', () => {
    const c = chain(5);
    [c[1], c[2]] = [c[2]!, c[1]!];
    const r = verifyChain(c);
    assert.equal(!r.ok && r.firstBadSeq, 2);
  });

  it('detects reordering that renumbers seq', () => {
    const c = chain(5);
    const a = { ...c[2]!, seq: 2 };
    const b = { ...c[1]!, seq: 3 };
    c[1] = a;
    c[2] = b;
    const r = verifyChain(c);
    assert.equal(!r.ok && r.firstBadSeq, 2);
  });

  it('detects truncation at the end given the last checkpoint', () => {
    const c = chain(6);
    const cp = { seq: 6, hash: c[5]!.hash };
    assert.equal(verifyChain(c, cp).ok, true);
    const r = verifyChain(c.slice(0, 4), cp);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.firstBadSeq, 5);
    assert.match(!r.ok ? r.problem : '', /truncated/);
  });

  it('detects a rewritten chain that does not match the checkpoint', () => {
    const c = chain(4);
    const other = chain(4).map((e) => ({ ...e }));
    const cp = { seq: 4, hash: 'f'.repeat(64) };
    assert.equal(verifyChain(c, cp).ok, false);
    assert.equal(verifyChain(other, { seq: 4, hash: c[3]!.hash }).ok, true, 'same content gives the same chain');
  });

  it('checkpoints round-trip as SEQ:HASH', () => {
    const cp = { seq: 42, hash: 'a'.repeat(64) };
    assert.deepEqual(parseCheckpoint(formatCheckpoint(cp)), cp);
    assert.equal(parseCheckpoint('42:xyz'), null);
    // seq counts from 1 and must be exact: no 0, no leading zeros, nothing past 15 digits.
    for (const bad of ['0', '042', '1234567890123456', '100000000000000000000']) assert.equal(parseCheckpoint(`${bad}:${'a'.repeat(64)}`), null, bad);
    assert.deepEqual(parseCheckpoint(`999999999999999:${'a'.repeat(64)}`), { seq: 999_999_999_999_999, hash: 'a'.repeat(64) });
  });

  it('property: any single-field change anywhere is caught at that event', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.string({ minLength: 1, maxLength: 5 }), (at, junk) => {
        const c = chain(8);
        const e = c[at - 1]!;
        c[at - 1] = { ...e, actor: e.actor + junk };
        const r = verifyChain(c);
        assert.equal(!r.ok && r.firstBadSeq, at);
      }),
    );
  });
});
