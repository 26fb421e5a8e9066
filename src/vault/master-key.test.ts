import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkMasterKey, loadMasterKey } from './master-key.js';
import { createVault } from './vault.js';

const posixOnly = { skip: process.platform === 'win32' };

describe('loadMasterKey', () => {
  let root = '';
  let n = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'stint-master-key-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const freshDir = () => join(root, `data-${++n}`);

  test('from STINT_MASTER_KEY as base64, base64url, or hex', async () => {
    const key = randomBytes(32);
    for (const text of [
      key.toString('base64'),
      key.toString('base64url'),
      key.toString('hex'),
      key.toString('hex').toUpperCase(),
      ` ${key.toString('base64')}\n`,
    ]) {
      const loaded = await loadMasterKey({ env: { STINT_MASTER_KEY: text }, dataDir: freshDir() });
      assert.deepStrictEqual(loaded.key, key);
      assert.equal(loaded.source, 'env');
      assert.equal(loaded.location, 'STINT_MASTER_KEY');
    }
  });

  test('a STINT_MASTER_KEY of the wrong length or format is a clear error without the value', async () => {
    const cases: [string, RegExp][] = [
      [randomBytes(16).toString('base64'), /^STINT_MASTER_KEY decodes to 16 bytes, not 32; /],
      [randomBytes(33).toString('base64'), /^STINT_MASTER_KEY decodes to 33 bytes, not 32; /],
      [randomBytes(31).toString('hex'), /^STINT_MASTER_KEY has 62 hex digits, not 64; /],
      [randomBytes(33).toString('hex'), /^STINT_MASTER_KEY has 66 hex digits, not 64; /],
      ['correct horse battery staple', /^STINT_MASTER_KEY is neither hex nor base64 \(28 characters\); /],
      [`${randomBytes(32).toString('base64').slice(0, -2)}B=`, /^STINT_MASTER_KEY is not valid base64 \(44 characters\); /],
      ['', /^STINT_MASTER_KEY is empty; /],
    ];
    for (const [value, message] of cases) {
      await assert.rejects(loadMasterKey({ env: { STINT_MASTER_KEY: value }, dataDir: freshDir() }), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, message);
        assert.match(err.message, /64 hex digits or as base64 \(44 characters\); generate one with: openssl rand -base64 32$/);
        if (value.trim().length > 4) assert.ok(!err.message.includes(value.trim().slice(0, 8)), 'message must not echo the key');
        return true;
      });
    }
  });

  test('generates a 0600 key file on first use, then reads the same key back', posixOnly, async () => {
    const dataDir = freshDir();
    const first = await loadMasterKey({ env: {}, dataDir });
    assert.equal(first.source, 'generated');
    assert.equal(first.key.length, 32);
    assert.equal(first.location, join(dataDir, 'master.key'));
    assert.equal((await stat(first.location)).mode & 0o777, 0o600);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    // Written as base64 text so it can be moved into STINT_MASTER_KEY unchanged.
    assert.equal((await readFile(first.location, 'utf8')).trim(), first.key.toString('base64'));
    assert.deepStrictEqual(await readdir(dataDir), ['master.key'], 'no temporary file left behind');

    const second = await loadMasterKey({ env: {}, dataDir });
    assert.equal(second.source, 'file');
    assert.deepStrictEqual(second.key, first.key);
  });

  test('the environment wins over a key file', async () => {
    const dataDir = freshDir();
    await loadMasterKey({ env: {}, dataDir });
    const key = randomBytes(32);
    const loaded = await loadMasterKey({ env: { STINT_MASTER_KEY: key.toString('hex') }, dataDir });
    assert.equal(loaded.source, 'env');
    assert.deepStrictEqual(loaded.key, key);
  });

  test('brokers starting together agree on one generated key', async () => {
    const dataDir = freshDir();
    const all = await Promise.all(Array.from({ length: 8 }, () => loadMasterKey({ env: {}, dataDir })));
    for (const k of all) assert.deepStrictEqual(k.key, all[0]!.key);
    assert.equal(all.filter((k) => k.source === 'generated').length, 1);
  });

  test('a key file readable by group or others is refused', posixOnly, async () => {
    for (const mode of [0o640, 0o604, 0o660]) {
      const dataDir = freshDir();
      const { location, key } = await loadMasterKey({ env: {}, dataDir });
      await chmod(location, mode);
      await assert.rejects(loadMasterKey({ env: {}, dataDir }), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.equal(
          err.message,
          `refusing master key file ${location}: it is accessible by group or others (mode 0${mode.toString(8)}); run: chmod 600 ${location}`,
        );
        assert.ok(!err.message.includes(key.toString('base64')));
        return true;
      });
    }
  });

  test('a key file with raw 32 bytes or hex text is accepted; anything else is refused', posixOnly, async () => {
    const key = randomBytes(32);
    for (const content of [key, `${key.toString('hex')}\n`]) {
      const dataDir = freshDir();
      await loadMasterKey({ env: {}, dataDir }); // creates the directory
      await writeFile(join(dataDir, 'master.key'), content, { mode: 0o600 });
      const loaded = await loadMasterKey({ env: {}, dataDir });
      assert.equal(loaded.source, 'file');
      assert.deepStrictEqual(loaded.key, key);
    }
    const dataDir = freshDir();
    await loadMasterKey({ env: {}, dataDir });
    const path = join(dataDir, 'master.key');
    await writeFile(path, 'short\n', { mode: 0o600 });
    await assert.rejects(loadMasterKey({ env: {}, dataDir }), { message: new RegExp(`^master key file ${path} is not valid base64 \\(5 characters\\); `) });
  });
});

describe('checkMasterKey', () => {
  function memoryMeta() {
    const meta = new Map<string, string>();
    return {
      meta,
      async getMeta(k: string) {
        return meta.get(k);
      },
      async setMeta(k: string, v: string) {
        meta.set(k, v);
      },
    };
  }

  test('first start records a check value; later starts with the same key pass', async () => {
    const store = memoryMeta();
    const key = randomBytes(32);
    await checkMasterKey(store, createVault(key));
    assert.match(store.meta.get('vault.check')!, /^v1\./);
    assert.equal(store.meta.get('vault.keyId'), createVault(key).keyId);
    await checkMasterKey(store, createVault(Buffer.from(key)));
  });

  test('a different key is detected, naming the source and key ids but never the key', async () => {
    const store = memoryMeta();
    const original = createVault(randomBytes(32));
    await checkMasterKey(store, original);
    const wrongKey = randomBytes(32);
    const wrong = createVault(wrongKey);
    await assert.rejects(checkMasterKey(store, wrong, { source: 'env', location: 'STINT_MASTER_KEY' }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal(
        err.message,
        `the master key from STINT_MASTER_KEY (key id ${wrong.keyId}) does not match the key this data was sealed with ` +
          `(key id ${original.keyId}); use the original master key (set STINT_MASTER_KEY or restore master.key in the data directory)`,
      );
      for (const enc of ['hex', 'base64', 'base64url'] as const) assert.ok(!err.message.includes(wrongKey.toString(enc)));
      return true;
    });
  });

  test('a freshly generated key over existing data says so', async () => {
    const store = memoryMeta();
    await checkMasterKey(store, createVault(randomBytes(32)));
    await assert.rejects(
      checkMasterKey(store, createVault(randomBytes(32)), { source: 'generated', location: '/var/lib/stint/master.key' }),
      /no master key was found, so a new one was generated at \/var\/lib\/stint\/master\.key; restore the original key file there or set STINT_MASTER_KEY$/,
    );
  });

  test('the source alone (as app.ts passes it) is enough for the message', async () => {
    const store = memoryMeta();
    await checkMasterKey(store, createVault(randomBytes(32)), 'env');
    await assert.rejects(
      checkMasterKey(store, createVault(randomBytes(32)), 'env'),
      /^Error: the master key from STINT_MASTER_KEY \(key id [0-9a-f]{16}\) does not match/,
    );
    await assert.rejects(
      checkMasterKey(store, createVault(randomBytes(32)), 'generated'),
      /a new one was generated at master\.key in the data directory; restore the original key file there or set STINT_MASTER_KEY$/,
    );
  });

  test('a damaged check value is treated as a mismatch, not accepted', async () => {
    const store = memoryMeta();
    await checkMasterKey(store, createVault(Buffer.alloc(32, 1)));
    store.meta.set('vault.check', 'garbage');
    await assert.rejects(checkMasterKey(store, createVault(Buffer.alloc(32, 1))), /does not match the key this data was sealed with/);
  });
});
