// Hostile free text at every text field of the API, through the real app: C0
// and C1 controls, ESC/CSI/OSC sequences, DEL, NUL, bidirectional overrides,
// isolates and marks, invisible characters, line separators, lone surrogates
// and overlong strings. Each is a 400 naming the field, and nothing changes.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { testKeyPair } from '../testing/ssh-keys.js';

/** One character or sequence that must never reach a reader's screen as it is. */
export const hostilePiece = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x7f, max: 0x9f }).map((c) => String.fromCharCode(c)),
  fc.constantFrom(
    '\u001b[2J\u001b[H',
    '\u001b]0;pwned\u0007',
    '\u001b]8;;https://evil.example/\u001b\\click\u001b]8;;\u001b\\',
    '\u001b[8m',
    '\u009b31m',
    '\u001bP+q\u001b\\',
    '\u202a',
    '\u202b',
    '\u202c',
    '\u202d',
    '\u202e',
    '\u2066',
    '\u2067',
    '\u2068',
    '\u2069',
    '\u200e',
    '\u200f',
    '\u061c',
    '\u200b',
    '\u2060',
    '\ufeff',
    '\u00ad',
    '\u2028',
    '\u2029',
    '\u0000',
    '\r\n',
    '\t',
    '\ud800',
    '\udfff',
    'a\ud83d',
    '\udc00b',
  ),
);

/** Ordinary text around a hostile piece: the piece is never at an end that a trim could remove. */
const hostileText = fc
  .tuple(fc.string({ unit: 'grapheme', maxLength: 20 }), hostilePiece, fc.string({ unit: 'grapheme', maxLength: 20 }))
  .filter(([a, , b]) => !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(a + b))
  .map(([a, p, b]) => `x${a}${p}${b}y`);

describe('hostile free text at the API edge', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let alice: string;
  let bob: string;
  let pending: string;

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
    alice = await broker.token('alice');
    bob = await broker.token('bob');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: 'a plain reason' });
    assert.equal(r.body.request.status, 'pending', r.raw);
    pending = r.body.request.id;
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  async function snapshot() {
    const store = broker.app.store;
    return {
      requests: JSON.stringify(await store.listRequests({})),
      grants: (await store.listGrants({})).length,
      tokens: (await broker.call(broker.adminToken, 'GET', '/v1/tokens')).body.tokens.length,
      keys: (await broker.call(broker.adminToken, 'GET', '/v1/keys')).body.keys.length,
      audit: (await store.auditHead())?.seq ?? 0,
    };
  }

  const key = testKeyPair().public;
  /** Every free-text field: who sends what, and the name the error must give. */
  const fields: Array<{ field: string; max: number; send(text: string): Promise<{ status: number; body: any; raw: string }>; named: RegExp }> = [
    {
      field: 'reason',
      max: 1000,
      send: (t) => broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: t }),
      named: /^reason: /,
    },
    {
      field: 'ticket',
      max: 200,
      send: (t) => broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: 'ok', ticket: t }),
      named: /^ticket: /,
    },
    { field: 'approve comment', max: 1000, send: (t) => broker.call(bob, 'POST', `/v1/requests/${pending}/approve`, { comment: t }), named: /^comment: / },
    { field: 'deny comment', max: 1000, send: (t) => broker.call(bob, 'POST', `/v1/requests/${pending}/deny`, { comment: t }), named: /^comment: / },
    {
      field: 'token description',
      max: 200,
      send: (t) => broker.call(broker.adminToken, 'POST', '/v1/tokens', { user: 'alice', description: t }),
      named: /^description: /,
    },
    {
      field: 'key comment',
      max: 200,
      send: (t) => broker.call(broker.adminToken, 'POST', '/v1/keys', { user: 'alice', publicKey: key, comment: t }),
      named: /^comment: /,
    },
  ];

  for (const f of fields) {
    it(`${f.field}: hostile text is 400 naming the field and changes nothing (property)`, async () => {
      const before = await snapshot();
      await fc.assert(
        fc.asyncProperty(hostileText, async (text) => {
          const r = await f.send(text);
          assert.equal(r.status, 400, `${JSON.stringify(text)}: ${r.raw}`);
          assert.equal(r.body.error.code, 'invalid');
          assert.match(r.body.error.message, f.named);
          assert.match(r.body.error.message, /control, invisible or bidirectional|NUL|well-formed Unicode/);
          assert.equal(
            /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(r.raw),
            false,
            'the answer itself carries no raw control or bidi character',
          );
        }),
        { numRuns: 60 },
      );
      const overlong = await f.send('x'.repeat(f.max + 1));
      assert.equal(overlong.status, 400);
      assert.match(overlong.body.error.message, new RegExp(`${f.named.source}must be at most ${f.max} characters`));
      assert.deepEqual(await snapshot(), before);
    });
  }

  it('the comment inside an SSH public key line is refused the same way (property)', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(
        hostileText.filter((t) => !/[ \t]/.test(t)),
        async (text) => {
          const r = await broker.call(broker.adminToken, 'POST', '/v1/keys', { user: 'alice', publicKey: `${key} ${text}` });
          assert.equal(r.status, 400, `${JSON.stringify(text)}: ${r.raw}`);
          assert.match(r.body.error.message, /^not a usable SSH public key: .*(comment|NUL|line)/);
        },
      ),
      { numRuns: 60 },
    );
    assert.deepEqual(await snapshot(), before);
  });

  it('ordinary text in any script, with emoji, is accepted as sent', async () => {
    const reason = 'Incident INC-42: réparer la base — 修复数据库 — إصلاح 🚑';
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason, ticket: 'OPS-7 «urgent»' });
    assert.equal(r.status, 201, r.raw);
    assert.equal(r.body.request.reason, reason);
    await broker.call(alice, 'POST', `/v1/requests/${r.body.request.id}/cancel`);
  });
});
