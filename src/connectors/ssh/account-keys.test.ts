import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { authorizedKeysFor, handOverFor } from './account-keys.js';
import { authorizedKeyFor, privateKeyFromSecret } from './keys.js';

const secret = 'S'.repeat(8) + 'broker-random-secret-0123456789';
const derived = authorizedKeyFor(secret) as string;
const alice = testKeyPair('alice@laptop');
const alice2 = testKeyPair('alice@desktop');
const bare = (line: string) => line.split(' ').slice(0, 2).join(' ');

describe('ssh account keys', () => {
  it("the derived key first, then the owner's keys without comments, each once", () => {
    const keys = authorizedKeysFor({ secret, publicKeys: [alice.public, alice2.public, `${bare(alice.public)} again`] });
    assert.equal(keys, [derived, bare(alice.public), bare(alice2.public)].join('\n'));
    assert.equal(authorizedKeysFor({ secret }), derived);
  });

  it("a gateway-only account takes the broker's key alone", () => {
    assert.equal(authorizedKeysFor({ secret, publicKeys: [alice.public], gatewayOnly: true }), derived);
  });

  it('anything but a public key line is refused, named by position and never echoed', () => {
    for (const bad of [
      'no key here at all, just text',
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJunk',
      `environment="X=1" ${alice.public}`,
      `${alice.public}\nssh-ed25519 AAAA`,
      privateKeyFromSecret(secret),
    ]) {
      const r = authorizedKeysFor({ secret, publicKeys: [alice.public, bad] });
      assert.ok(r instanceof Error, bad);
      assert.match(r.message, /^publicKeys\[1\]/);
      assert.ok(!r.message.includes(secret) && !r.message.includes(bad), r.message);
    }
    const many = authorizedKeysFor({ secret, publicKeys: Array.from({ length: 101 }, () => alice.public) });
    assert.ok(many instanceof Error && /at most 100/.test(many.message));
  });

  it("hands over the derived private key only when none of the owner's keys is installed", () => {
    const own = handOverFor({ account: 'stint_alice_abc123', secret, publicKeys: [alice.public] }, { host: 'web-1', port: 22 });
    assert.deepEqual(own, { password: null, privateKey: null, login: 'ssh stint_alice_abc123@web-1' });
    const handed = handOverFor({ account: 'stint_alice_abc123', secret, publicKeys: [] }, { host: '10.0.0.5', port: 2222 });
    assert.equal(handed.password, null);
    assert.equal(handed.login, 'ssh -i KEYFILE -p 2222 stint_alice_abc123@10.0.0.5');
    // The key that logs in is the one the host got.
    assert.equal(authorizedKeyFor(handed.privateKey!), derived);
  });
});
