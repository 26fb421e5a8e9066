import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allowedForward } from './channels.js';

describe('ssh gateway: portForwarding rules', () => {
  const profile = { portForwarding: ['db.internal:5432', '127.0.0.1:*', '[::1]:8080', 'kube.internal:*'] };

  it('allows what a rule names, by exact host and port or any port, and forwards exactly that host', () => {
    assert.equal(allowedForward(profile, 'db.internal', 5432), 'db.internal');
    assert.equal(allowedForward(profile, 'DB.Internal', 5432), 'db.internal');
    assert.equal(allowedForward(profile, '127.0.0.1', 1), '127.0.0.1');
    assert.equal(allowedForward(profile, '127.0.0.1', 65535), '127.0.0.1');
    assert.equal(allowedForward(profile, '::1', 8080), '::1');
    assert.equal(allowedForward(profile, '[::1]', 8080), '::1');
  });

  it('refuses everything else, including spellings a resolver might take for an allowed host', () => {
    for (const [host, port] of [
      ['db.internal', 5433],
      ['db.internal.', 5432],
      ['db', 5432],
      ['evil.db.internal', 5432],
      ['2130706433', 80],
      ['127.1', 80],
      ['0x7f.1', 80],
      ['localhost', 80],
      ['0:0::1', 8080],
      ['::1', 8081],
      ['\u212Aube.internal', 443],
      ['kube.internal\u0000x', 443],
      ['kube.internal x', 443],
      ['', 22],
      ['127.0.0.1', 0],
      ['127.0.0.1', 65536],
      ['127.0.0.1', 1.5],
    ] as const) {
      assert.equal(allowedForward(profile, host, port), null, `${JSON.stringify(host)}:${port}`);
    }
    assert.equal(allowedForward({ portForwarding: [] }, '127.0.0.1', 22), null, 'no rules, no forwarding');
  });
});
