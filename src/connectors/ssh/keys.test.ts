import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { authorizedKeyFor, privateKeyFromSecret, secretKind } from './keys.js';

describe('ssh keys from secrets', () => {
  const secret = 'S0123456789abcdefghijklmnopqrstuvwxyz';

  it('derives a deterministic Ed25519 key whose public half is what the host gets', () => {
    const pem = privateKeyFromSecret(secret);
    assert.equal(pem, privateKeyFromSecret(secret));
    const parsed = ssh2.utils.parseKey(pem);
    assert.ok(!(parsed instanceof Error) && !Array.isArray(parsed));
    assert.equal(`${parsed.type} ${parsed.getPublicSSH().toString('base64')}`, authorizedKeyFor(secret));
    assert.notEqual(authorizedKeyFor(`${secret}x`), authorizedKeyFor(secret));
    // ssh-keygen agrees (the file works with `ssh -i`).
    const dir = mkdtempSync(join(tmpdir(), 'stint-key-'));
    try {
      writeFileSync(join(dir, 'k'), pem, { mode: 0o600 });
      const pub = execFileSync('ssh-keygen', ['-y', '-f', join(dir, 'k')])
        .toString()
        .trim()
        .split(' ')
        .slice(0, 2)
        .join(' ');
      assert.equal(pub, authorizedKeyFor(secret));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts a public key line or a private key, and refuses what it cannot use without echoing it', () => {
    const kp = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'me@host' });
    const fromPublic = authorizedKeyFor(kp.public);
    assert.equal(secretKind(kp.public), 'public-key');
    assert.equal(fromPublic, kp.public.split(' ').slice(0, 2).join(' '));
    assert.equal(authorizedKeyFor(kp.private), fromPublic);
    const short = authorizedKeyFor('Zq9x');
    assert.ok(short instanceof Error && !short.message.includes('Zq9x'));
    const broken = authorizedKeyFor('ssh-ed25519 AAAAnotakey');
    assert.ok(broken instanceof Error && !broken.message.includes('AAAAnotakey'));
  });
});
