import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanScriptMessage, interpret, secretForms } from './protocol.js';
import type { RunOutcome } from './run-command.js';

const limits = { timeoutMs: 1000, maxOutputBytes: 1024 };
const exited = (code: number, stdout: string): RunOutcome => ({ kind: 'exited', code, stdout });
const SECRET = 'pa"ss\\word/é';

describe('interpret', () => {
  it('accepts a well-formed answer, extra fields included', () => {
    assert.deepEqual(interpret('remove', exited(0, '{"existed":true,"terminatedSessions":2,"note":"x"}\n'), limits, []), {
      ok: true,
      answer: { existed: true, terminatedSessions: 2 },
    });
    const list = interpret(
      'list',
      exited(0, JSON.stringify({ accounts: [{ account: 'a', managed: true, grants: [], expiresAt: '2030-01-01T00:00:00.000Z' }] })),
      limits,
      [],
    );
    assert.equal(list.ok, true);
  });

  it('requires ok:true for operations without data, so empty output is never success', () => {
    for (const out of ['', '{}', '{"ok":"yes"}', 'null']) {
      const r = interpret('create', exited(0, out), limits, []);
      assert.equal(r.ok, false, out);
      assert.ok(!r.ok && !r.retryable && /malformed answer/.test(r.reason));
    }
  });

  it('names malformed fields by path, never by value', () => {
    const r = interpret('describe', exited(0, JSON.stringify({ exists: SECRET, managed: true, grants: [SECRET, 1], expiresAt: SECRET })), limits, [SECRET]);
    assert.ok(!r.ok);
    assert.match(r.reason, /exists: .*grants\.1: .*expiresAt: /);
    for (const form of secretForms([SECRET])) assert.ok(!r.reason.includes(form));
  });

  it('uses the JSON error of a failed script, its retryable flag or else the exit code', () => {
    const err = (retryable?: boolean) =>
      JSON.stringify({ error: { message: `no ${JSON.stringify(SECRET)}`, ...(retryable === undefined ? {} : { retryable }) } });
    const reported = interpret('grant', exited(1, err(true)), limits, [SECRET]);
    assert.ok(!reported.ok && reported.retryable && /^reported: no "[^"]+"$/.test(reported.reason), JSON.stringify(reported));
    for (const form of secretForms([SECRET])) assert.ok(!reported.reason.includes(form));
    assert.equal((interpret('grant', exited(75, err()), limits, []) as { retryable: boolean }).retryable, true);
    assert.equal((interpret('grant', exited(1, err()), limits, []) as { retryable: boolean }).retryable, false);
    // An error document with exit 0 is still a failure.
    assert.equal(interpret('grant', exited(0, err(false)), limits, []).ok, false);
    // A success document with a non-zero exit is a failure: the exit code wins.
    assert.equal(interpret('grant', exited(3, '{"ok":true}'), limits, []).ok, false);
  });

  it('maps how a run ended to retryable or not', () => {
    const r = (o: RunOutcome) => interpret('health', o, limits, []) as { ok: false; retryable: boolean; reason: string };
    assert.equal(r({ kind: 'timeout' }).retryable, true);
    assert.equal(r({ kind: 'signalled', signal: 'SIGKILL', stdout: '' }).retryable, true);
    assert.equal(r({ kind: 'overflow' }).retryable, false);
    assert.equal(r({ kind: 'spawn-failed', code: 'ENOENT' }).retryable, false);
    assert.equal(r({ kind: 'spawn-failed', code: 'EAGAIN' }).retryable, true);
    assert.equal(r(exited(75, 'garbage')).retryable, true);
    assert.equal(r(exited(2, '')).retryable, false);
  });
});

describe('cleanScriptMessage', () => {
  it('removes every form of the secrets, control characters and excess length', () => {
    const msg = `a ${SECRET} b ${JSON.stringify(SECRET)} c ${encodeURIComponent(SECRET)}\n\u202edone`;
    const out = cleanScriptMessage(msg, [SECRET, undefined]);
    for (const form of secretForms([SECRET])) assert.ok(!out.includes(form), out);
    assert.ok(!/[\n\u202e]/.test(out));
    assert.ok(cleanScriptMessage('x'.repeat(2000), []).length <= 501);
    assert.equal(cleanScriptMessage('  ', []), '(no message)');
  });
});
