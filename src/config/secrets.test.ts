import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StintError } from '../core/errors.js';
import type { TargetDef } from '../core/types.js';
import { readAdminSecret } from './secrets.js';

function target(source: TargetDef['adminSecretSource']): TargetDef {
  return { name: 'pg-main', kind: 'postgres', critical: false, settings: {}, adminUser: 'stint_admin', adminSecretSource: source };
}

describe('readAdminSecret', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stint-secrets-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function secretFile(name: string, content: string, mode: number): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content, { mode });
    await chmod(path, mode); // writeFile's mode is subject to umask
    return path;
  }

  test('from an environment variable', async () => {
    assert.equal(await readAdminSecret(target({ env: 'PG_PW' }), { PG_PW: 's3cret\n' }), 's3cret\n');
  });

  test('an unset or empty variable is an error naming the variable, not a value', async () => {
    await assert.rejects(readAdminSecret(target({ env: 'PG_PW' }), { OTHER: 'leak-me' }), (err: unknown) => {
      assert.ok(err instanceof StintError);
      assert.equal(err.code, 'invalid');
      assert.equal(err.message, 'admin secret for target pg-main: environment variable PG_PW is not set');
      return true;
    });
    await assert.rejects(readAdminSecret(target({ env: 'PG_PW' }), { PG_PW: '' }), {
      message: 'admin secret for target pg-main: environment variable PG_PW is empty',
    });
  });

  test('defaults to process.env', async () => {
    process.env.STINT_TEST_SECRET_X = 'from-process';
    try {
      assert.equal(await readAdminSecret(target({ env: 'STINT_TEST_SECRET_X' })), 'from-process');
    } finally {
      delete process.env.STINT_TEST_SECRET_X;
    }
  });

  test('from a 0600 file, trimming exactly one trailing newline', async () => {
    assert.equal(await readAdminSecret(target({ file: await secretFile('a.pw', 'pa ss\n', 0o600) })), 'pa ss');
    assert.equal(await readAdminSecret(target({ file: await secretFile('b.pw', 'pass\r\n', 0o600) })), 'pass');
    assert.equal(await readAdminSecret(target({ file: await secretFile('c.pw', 'pass\n\n', 0o600) })), 'pass\n');
    assert.equal(await readAdminSecret(target({ file: await secretFile('d.pw', 'pass', 0o400) })), 'pass');
  });

  test('a missing file is an error naming the file', async () => {
    const path = join(dir, 'missing.pw');
    await assert.rejects(readAdminSecret(target({ file: path })), {
      message: `admin secret file ${path} for target pg-main does not exist`,
    });
  });

  test('group- or world-readable files are refused with chmod 600 advice', { skip: process.platform === 'win32' }, async () => {
    for (const [name, mode] of [
      ['g.pw', 0o640],
      ['o.pw', 0o604],
      ['w.pw', 0o620],
    ] as const) {
      const path = await secretFile(name, 'hunter2', mode);
      await assert.rejects(readAdminSecret(target({ file: path })), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.equal(
          err.message,
          `admin secret file ${path} for target pg-main is accessible by group or others (mode 0${mode.toString(8)}); run: chmod 600 ${path}`,
        );
        assert.ok(!err.message.includes('hunter2'));
        return true;
      });
    }
  });

  test('an empty file, or a directory, is refused', async () => {
    const empty = await secretFile('empty.pw', '\n', 0o600);
    await assert.rejects(readAdminSecret(target({ file: empty })), { message: `admin secret file ${empty} for target pg-main is empty` });
    const sub = join(dir, 'sub');
    await mkdir(sub, { mode: 0o700 });
    await assert.rejects(readAdminSecret(target({ file: sub })), { message: `admin secret file ${sub} for target pg-main is not a regular file` });
  });

  test('the demo source is not readable from config', async () => {
    await assert.rejects(readAdminSecret(target({ inline: 'demo' })), /supplied by the demo setup/);
  });
});
