// The CLI renderer never writes a raw control or bidi character that came
// from the server: tables, truncated text, detail blocks, error messages and
// --json documents (property tests over hostile text), and the commands
// themselves against an API that sends such text.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { escapeDeep, escapeText } from '../core/text.js';
import { denyCommand } from './commands/deny.js';
import { grantsCommand } from './commands/grants.js';
import { requestsCommand } from './commands/requests.js';
import { CliError } from './cli-error.js';
import { jsonText, reportError, table, truncate } from './output.js';
import { FakeApi, apiError, grant, request, runCommand } from './testing/fake-api.js';

/** Any character a terminal may act on; '\n' only where the renderer puts it between lines. */
const rawControl = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\p{Cs}]/u;

const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(
      fc.oneof(
        fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)),
        fc.constantFrom(
          '\u001b]0;title\u0007',
          '\u001b[2J',
          '\u009b1m',
          '\u202e',
          '\u2066',
          '\u200f',
          '\u061c',
          '\ufeff',
          '\u2028',
          '\ud800',
          '\udc00',
          '\u{e0041}',
          'é',
          '😀',
          ' ',
        ),
      ),
      { maxLength: 30 },
    )
    .map((a) => a.join('')),
);

describe('terminal escaping in the CLI', () => {
  test('escapeText leaves no raw control, is idempotent, and changes safe text not at all (property)', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const e = escapeText(s);
        assert.equal(rawControl.test(e.replace(/\n/g, '')) || e.includes('\n'), false, JSON.stringify(e));
        assert.equal(escapeText(e), e);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }).filter((s) => !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(s)),
        (s) => assert.equal(escapeText(s), s),
      ),
    );
  });

  test('tables, truncated text, error messages and JSON documents carry no raw control character (property)', () => {
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        const t = table(
          [
            { a, b },
            { a: b, b: a },
          ],
          [
            { header: 'A', value: (r) => r.a },
            { header: 'B', value: (r) => r.b },
          ],
        );
        for (const line of t.split('\n')) assert.equal(rawControl.test(line), false, JSON.stringify(t));
        assert.equal(t.split('\n').length, 3, 'one line per row');
        assert.equal(rawControl.test(truncate(a, 10)) || truncate(a, 10).includes('\n'), false);
        const text = jsonText({ a, nested: [{ b }] });
        assert.equal(rawControl.test(text.replace(/\n/g, '')), false, text);
        assert.deepEqual(JSON.parse(text), { a, nested: [{ b }] }, 'the same JSON value');
        let err = '';
        reportError(
          {
            stdout: () => {},
            stderr: (s) => {
              err += s;
            },
            env: {},
            isTTY: false,
          },
          false,
          new CliError('invalid', a),
        );
        assert.equal(rawControl.test(err.replace(/\n$/, '')) || err.slice(0, -1).includes('\n'), false, JSON.stringify(err));
        const deep = escapeDeep({ [a]: [b, { c: a }], n: 1, z: null });
        assert.equal(rawControl.test(JSON.stringify(deep).replace(/\\u[0-9a-f]{4}|\\[nrt"\\bf]/g, '')), false);
      }),
      { numRuns: 1000 },
    );
  });

  describe('commands against an API that sends hostile text', () => {
    const api = new FakeApi();
    const env = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', STINT_SERVER: api.url, STINT_TOKEN: 'stint_test' });
    before(() => api.start());
    after(() => api.stop());
    beforeEach(() => api.reset());
    const evil = 'ok\u001b]0;approved\u0007\u001b[2K\rLGTM\u202egnp.exe';

    test('stint requests --approvable, stint grants, stint deny and an API error', async () => {
      api.on('GET /v1/requests', { body: { requests: [request({ reason: evil, ticket: '\u009b31m', user: 'alice' })] } });
      const r = await runCommand(requestsCommand, ['--approvable'], env());
      assert.equal(r.code, 0, r.stderr);
      assert.equal(rawControl.test(r.stdout.replace(/\n/g, '')), false, JSON.stringify(r.stdout));
      assert.ok(r.stdout.includes('[\\x9b31m] ok\\x1b]0;approved\\x07\\x1b[2K'), r.stdout);

      api.on('GET /v1/grants', { body: { grants: [grant({ account: 'stint_\u001b[31m', profile: 'p\u2066' })] } });
      const g = await runCommand(grantsCommand, [], env());
      assert.equal(rawControl.test(g.stdout.replace(/\n/g, '')), false, JSON.stringify(g.stdout));

      api.on('POST /v1/requests/req_aaaaaaaaaaaa/deny', {
        body: { request: request({ status: 'denied', decidedBy: 'bob\u202e', decisionComment: evil }), grant: null },
      });
      const d = await runCommand(denyCommand, ['req_aaaaaaaaaaaa', '--comment', 'no'], env());
      assert.equal(d.code, 0, d.stderr);
      assert.equal(rawControl.test(d.stdout.replace(/\n/g, '')), false, JSON.stringify(d.stdout));
      assert.ok(d.stdout.includes('LGTM\\u{202e}gnp.exe'), d.stdout);

      api.on('GET /v1/grants', apiError(404, 'not_found', `profile "${evil}" does not exist`));
      const e = await runCommand(grantsCommand, [], env());
      assert.equal(e.code, 5);
      assert.equal(rawControl.test(e.stderr.replace(/\n$/, '')), false, JSON.stringify(e.stderr));

      api.on('GET /v1/requests', { body: { requests: [request({ reason: evil })] } });
      const j2 = await runCommand(requestsCommand, ['--approvable', '--json'], env());
      assert.equal(rawControl.test(j2.stdout.replace(/\n/g, '')), false, JSON.stringify(j2.stdout));
      assert.equal(JSON.parse(j2.stdout).requests[0].reason, evil, '--json keeps the value');
    });
  });
});
