// The gateway's host key kept in the store: brokers starting together on one
// store end up with one key (one makes it, the others read it); a key a
// broker made in its data dir before is brought in; an operator's file wins.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '../../store/memory/memory-store.js';
import { createVault } from '../../vault/vault.js';
import { loadHostKey } from './host-key.js';

const vault = createVault(Buffer.alloc(32, 9));

describe('ssh gateway host key in the store', () => {
  it('three brokers starting at once on one store present one key; it is sealed, never stored in clear', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-hostkey-store-'));
    const store = createMemoryStore();
    try {
      const keys = await Promise.all(
        [1, 2, 3].map((i) => loadHostKey({ file: null, dataDir: join(dir, `b${i}`), shared: { store, vault } }).catch(() => null)),
      );
      // Data dirs do not exist: the local copy cannot be written, which must fail loudly rather than give a different key.
      assert.deepEqual(keys, [null, null, null]);
      for (const i of [1, 2, 3]) mkdirSync(join(dir, `b${i}`), { mode: 0o700 });
      const made = await Promise.all([1, 2, 3].map((i) => loadHostKey({ file: null, dataDir: join(dir, `b${i}`), shared: { store, vault } })));
      assert.equal(new Set(made.map((k) => k.publicKey)).size, 1);
      assert.deepEqual(
        made.map((k) => k.source),
        ['store', 'store', 'store'],
      );
      const sealed = (await store.getMeta('ssh-gateway-host-key'))!;
      assert.equal(sealed.includes('PRIVATE KEY'), false);
      // Each broker's local copy is the store's key.
      for (const i of [1, 2, 3]) assert.equal(readFileSync(join(dir, `b${i}`, 'ssh_host_ed25519_key'), 'utf8'), made[0]!.privateKey);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a broker that made its key before keys lived in the store brings it in; hostKeyFile keeps precedence', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-hostkey-store-'));
    const store = createMemoryStore();
    try {
      const old = await loadHostKey({ file: null, dataDir: dir });
      assert.equal(old.source, 'data-dir');
      const shared = await loadHostKey({ file: null, dataDir: dir, shared: { store, vault } });
      assert.equal(shared.fingerprint, old.fingerprint, 'clients that pinned the old key keep trusting it');
      const other = mkdtempSync(join(tmpdir(), 'stint-hostkey-store-'));
      try {
        assert.equal((await loadHostKey({ file: null, dataDir: other, shared: { store, vault } })).fingerprint, old.fingerprint);
        const own = join(other, 'operator_key');
        execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', own]);
        const fromFile = await loadHostKey({ file: own, dataDir: other, shared: { store, vault } });
        assert.equal(fromFile.source, 'file');
        assert.notEqual(fromFile.fingerprint, old.fingerprint);
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
