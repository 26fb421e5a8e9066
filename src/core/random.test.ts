import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomBytes } from './random.js';

test('randomBytes gives buffers of the asked length, of their own, across block refills', () => {
  const seen = new Set<string>();
  const taken: Buffer[] = [];
  // 24 bytes × 1,000 draws crosses the 4 KiB block several times.
  for (let i = 0; i < 1000; i++) {
    const b = randomBytes(24);
    assert.equal(b.length, 24);
    const hex = b.toString('hex');
    assert.ok(!seen.has(hex), 'a value came out twice');
    seen.add(hex);
    taken.push(b);
  }
  // Each draw owns its memory: later draws do not change earlier ones.
  const before = taken[0]!.toString('hex');
  for (let i = 0; i < 500; i++) randomBytes(32);
  assert.equal(taken[0]!.toString('hex'), before);
  // …and shares no ArrayBuffer with anything else.
  assert.equal(taken[0]!.buffer.byteLength, 24);
  assert.notEqual(taken[0]!.buffer, taken[1]!.buffer);
});

test('randomBytes looks uniform: every byte value turns up over 256 KiB', () => {
  const counts = new Array<number>(256).fill(0);
  for (let i = 0; i < 1024; i++) for (const b of randomBytes(256)) counts[b]!++;
  // Expected 1,024 each; a value missing or 3× too frequent would mean a broken draw (e.g. zeroed bytes handed out).
  assert.ok(Math.min(...counts) > 700, `rarest byte value seen ${Math.min(...counts)} times`);
  assert.ok(Math.max(...counts) < 1400, `commonest byte value seen ${Math.max(...counts)} times`);
});

test('randomBytes serves sizes larger than a quarter block directly, and zero bytes', () => {
  assert.equal(randomBytes(0).length, 0);
  const big = randomBytes(5000);
  assert.equal(big.length, 5000);
  assert.ok(big.some((x) => x !== 0));
});

test('randomBytes refuses a count that is not a whole non-negative number', () => {
  for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => randomBytes(n), RangeError);
});
