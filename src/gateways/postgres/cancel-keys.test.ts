// Cancel keys: the client gets the backend's real process id and a secret of
// the gateway's own; only that secret forwards a cancel (with the target's
// own secret), a forged or forgotten one is ignored, and backends of two
// targets sharing a process id stay apart.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCancelKeys, type CancelTarget } from './cancel-keys.js';

const target = (host: string, processId: number, secretKey: number): CancelTarget => ({ host, port: 5432, ssl: false, processId, secretKey });

describe('cancel keys', () => {
  it('keep the real process id, replace the secret, and forward only a cancel with the issued secret', () => {
    const sent: CancelTarget[] = [];
    const keys = createCancelKeys((t) => sent.push(t));
    const a = target('a', 4242, 111);
    const key = keys.issue(a);
    assert.equal(key.processId, 4242);
    assert.notEqual(key.secretKey, 111, 'the target’s secret never reaches the client');
    keys.cancel(4242, 111);
    keys.cancel(4242, key.secretKey ^ 1);
    keys.cancel(4243, key.secretKey);
    assert.deepEqual(sent, [], 'forged keys are ignored');
    keys.cancel(4242, key.secretKey);
    assert.deepEqual(sent, [a]);
    keys.forget(key);
    keys.cancel(4242, key.secretKey);
    assert.equal(sent.length, 1, 'a forgotten key cancels nothing');
  });

  it('two backends with one process id (two targets) each get their own secret and their own cancel', () => {
    const sent: CancelTarget[] = [];
    const keys = createCancelKeys((t) => sent.push(t));
    const a = target('a', 77, 1);
    const b = target('b', 77, 2);
    const ka = keys.issue(a);
    const kb = keys.issue(b);
    assert.notEqual(ka.secretKey, kb.secretKey);
    keys.cancel(77, kb.secretKey);
    keys.forget(kb);
    keys.cancel(77, ka.secretKey);
    assert.deepEqual(sent, [b, a]);
  });
});
