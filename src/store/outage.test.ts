import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { StintError } from '../core/errors.js';
import { mapStoreError, outageReason } from './outage.js';
import { openStore } from './index.js';
import { createSqliteStore } from './sqlite/sqlite-store.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('store outage errors', () => {
  it('recognises connection failures and leaves every other error as it was', () => {
    for (const e of [
      withCode('ECONNREFUSED'),
      withCode('57P01'),
      withCode('08006'),
      withCode('53300'),
      withCode('SQLITE_BUSY'),
      withCode('SQLITE_IOERR_WRITE'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
    ]) {
      const m = mapStoreError(e);
      assert.ok(m instanceof StintError && m.code === 'unavailable', String(e));
      assert.equal((m as Error).cause, e);
    }
    for (const e of [withCode('23505'), withCode('42P01'), withCode('SQLITE_CONSTRAINT_UNIQUE'), new Error('boom'), new StintError('conflict', 'no')]) {
      assert.equal(mapStoreError(e), e);
      if (!(e instanceof StintError)) assert.equal(outageReason(e), null);
    }
  });

  it('a SQLite store locked by another process past its busy timeout is unavailable, and works once released', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stint-outage-'));
    const path = join(dir, 'stint.db');
    await (await openStore({ kind: 'sqlite', path })).close();
    const store = createSqliteStore({ path, busyTimeoutMs: 50 });
    const other = new BetterSqlite3(path);
    try {
      other.exec('BEGIN EXCLUSIVE');
      await assert.rejects(
        store.setMeta('probe', '1'),
        (err: unknown) => err instanceof StintError && err.code === 'unavailable' && /SQLITE_BUSY/.test(err.message),
      );
      other.exec('COMMIT');
      await store.setMeta('probe', '1');
      assert.equal(await store.getMeta('probe'), '1');
    } finally {
      other.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
