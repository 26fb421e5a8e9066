import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StintError } from '../core/errors.js';
import { formatPath, parseJsonBody, scanKeys } from './json-body.js';

const parse = (text: string | Buffer) => parseJsonBody(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
const refused = (text: string | Buffer, message: RegExp) =>
  assert.throws(
    () => parse(text),
    (err: unknown) => err instanceof StintError && err.code === 'invalid' && message.test(err.message),
  );

// JSON values with keys drawn from a small set, so objects often hold keys that look alike.
const keyArb = fc.oneof(fc.constantFrom('a', 'b', 'user', 'us\u0065r', 'é', '"', '\\', 'x y'), fc.string({ maxLength: 4 }));
const jsonArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(
    keyArb.filter((k) => k !== '__proto__'),
    tie('value'),
    { maxKeys: 4 },
  ),
})).value;

describe('strict JSON body', () => {
  it('agrees with JSON.parse on every valid document without repeated keys (property)', () => {
    fc.assert(
      fc.property(jsonArb, fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        assert.deepEqual(parse(text), JSON.parse(text));
        assert.deepEqual(scanKeys(text), { ok: true });
      }),
      { numRuns: 500 },
    );
  });

  it('finds a key repeated in any object at any depth, and names its path (property)', () => {
    // A document whose object at `path` gets one of its keys written a second time.
    fc.assert(
      fc.property(
        jsonArb,
        fc.array(fc.nat(), { maxLength: 5 }),
        keyArb.filter((k) => k !== '__proto__'),
        (value, choices, key) => {
          const root = { [key]: 1, wrap: value };
          // Walk down a random route to a nested object and repeat one of its keys there, escaped differently.
          let node: unknown = root;
          const path: Array<string | number> = [];
          for (const c of choices) {
            if (Array.isArray(node) && node.length) {
              path.push(c % node.length);
              node = node[c % node.length];
            } else if (node && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length) {
              const k = Object.keys(node)[c % Object.keys(node).length]!;
              path.push(k);
              node = (node as Record<string, unknown>)[k];
            } else break;
          }
          if (!node || typeof node !== 'object' || Array.isArray(node) || Object.keys(node).length === 0) {
            node = root;
            path.length = 0;
          }
          const target = node as Record<string, unknown>;
          const dup = Object.keys(target)[0]!;
          const marker = '\u0000MARK\u0000';
          target[marker] = 0;
          const escaped = JSON.stringify(dup).replace(/[a-z]/, (ch) => `\\u00${ch.charCodeAt(0).toString(16)}`);
          // A function, not a string: a key such as "$$" would otherwise be read as a replacement pattern.
          const text = JSON.stringify(root).replace(`${JSON.stringify(marker)}:0`, () => `${escaped}:0`);
          const scan = scanKeys(text);
          assert.equal(scan.ok, false, text);
          assert.deepEqual(!scan.ok && scan.path, [...path, dup]);
          refused(text, new RegExp(`body ${formatPath([...path, dup]).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the field is given more than once`));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the attack from the probe: the last of two users does not win', () => {
    refused('{"user":"alice","user":"carol"}', /^body user: the field is given more than once$/);
    refused('{"user":"alice","us\\u0065r":"carol"}', /^body user: /);
    refused('{"a":{"b":[{"c":1,"c":2}]}}', /^body a\.b\[0\]\.c: /);
    assert.deepEqual(parse('{"a":{"x":1},"b":{"x":1}}'), { a: { x: 1 }, b: { x: 1 } }, 'the same key in two objects is fine');
    assert.deepEqual(parse('[{"x":1},{"x":2}]'), [{ x: 1 }, { x: 2 }]);
    assert.deepEqual(parse('{"k":"a\\"b,\\"k\\":1"}'), { k: 'a"b,"k":1' }, 'a key inside a string is text');
  });

  it('refuses prototype keys, an empty body and invalid JSON', () => {
    refused('{"__proto__":{"admin":true}}', /body __proto__: a field named __proto__/);
    refused('{"constructor":{"prototype":{"admin":true}}}', /body constructor\.prototype: /);
    refused('', /request body is empty/);
    refused('{"a":', /not valid JSON/);
  });

  it('refuses invalid UTF-8 naming the field that holds it, instead of reading U+FFFD', () => {
    const body = (before: string, bytes: number[], after: string) => Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
    refused(body('{"profile":"pg-read","reason":"ab', [0xff], 'c"}'), /^body reason: not valid UTF-8 \(byte 33\)$/);
    refused(body('{"a":{"b":["x","', [0xc0, 0xaf], '"]}}'), /^body a\.b\[1\]: not valid UTF-8/); // overlong '/'
    refused(body('{"r":"', [0xed, 0xa0, 0x80], '"}'), /^body r: not valid UTF-8/); // an encoded surrogate
    refused(body('{"r', [0xe2, 0x28, 0xa1], '":1}'), /^body r.*: not valid UTF-8/); // inside a key
    refused(body('', [0xfe], '{}'), /^request body: not valid UTF-8 \(byte 0\)$/);
    refused(body('{"r":"', [0xe2, 0x82], '"}'), /^body r: not valid UTF-8/); // a character cut short
    assert.deepEqual(parse('{"r":"é€😀"}'), { r: 'é€😀' });
  });
});
