// The gateway's host key: made once as Ed25519 and kept; an operator's RSA or
// ECDSA key is refused with how to make an Ed25519 one (ssh2 would offer an
// RSA key as SHA-1 ssh-rsa too, and ECDSA uses NIST curves: ssh-audit fails both).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHostKey } from './host-key.js';

describe('ssh gateway host key', () => {
  it('is made once as Ed25519 and kept; RSA and ECDSA files are refused with the command that makes a good one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-hostkey-'));
    try {
      const made = await loadHostKey({ file: null, dataDir: dir });
      assert.match(made.publicKey, /^ssh-ed25519 /);
      assert.equal((await loadHostKey({ file: null, dataDir: dir })).fingerprint, made.fingerprint);
      for (const [type, bits] of [
        ['rsa', '3072'],
        ['ecdsa', '256'],
      ] as const) {
        const file = join(dir, `key_${type}`);
        execFileSync('ssh-keygen', ['-q', '-t', type, '-b', bits, '-N', '', '-f', file]);
        await assert.rejects(loadHostKey({ file, dataDir: dir }), (err: Error) => {
          assert.match(
            err.message,
            new RegExp(`host key ${file} is (ssh-rsa|ecdsa-sha2-nistp256); the gateway takes Ed25519 host keys only .*ssh-keygen -t ed25519 -N '' -f ${file}`),
          );
          return true;
        });
      }
      const ed = join(dir, 'key_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', ed]);
      assert.match((await loadHostKey({ file: ed, dataDir: dir })).publicKey, /^ssh-ed25519 /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
