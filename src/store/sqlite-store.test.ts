import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyChain } from '../core/audit/chain.js';
import { openStore } from './index.js';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { migrations, upgradedTokenTtlMs } from './migrations.js';
import { migrationLockTableName, migrationTableName } from './schema.js';
import { makeGrant } from './testing/fixtures.js';
import { storeSuite } from './testing/store-suite.js';
import { claimsSuite } from './testing/store-suite-claims.js';

const dir = await mkdtemp(join(tmpdir(), 'stint-sqlite-'));
after(() => rm(dir, { recursive: true, force: true }));
let n = 0;

storeSuite('sqlite (file)', async () => {
  const path = join(dir, `store-${++n}.db`);
  const store = await openStore({ kind: 'sqlite', path });
  return { store, cleanup: () => store.close() };
});

storeSuite('sqlite (:memory:)', async () => {
  const store = await openStore({ kind: 'sqlite', path: ':memory:' });
  return { store, cleanup: () => store.close() };
});

claimsSuite('sqlite (file)', async () => {
  const store = await openStore({ kind: 'sqlite', path: join(dir, `store-${++n}.db`) });
  return { store, cleanup: () => store.close() };
});

describe('sqlite store specifics', () => {
  it('keeps data across close and reopen, and reopening migrates nothing', async () => {
    const path = join(dir, 'reopen.db');
    const a = await openStore({ kind: 'sqlite', path });
    await a.setMeta('k', 'v');
    const e = await a.appendAudit({ at: 1, actor: 'stint', action: 'x' });
    await a.close();
    const b = await openStore({ kind: 'sqlite', path });
    assert.equal(await b.getMeta('k'), 'v');
    assert.deepEqual(await b.auditHead(), { seq: 1, hash: e.hash });
    await b.close();
  });

  it('upgrades a store made before 0002 (grants kept, no session lease), and repeats half-recorded migrations safely', async () => {
    const path = join(dir, 'upgrade.db');
    const a = await openStore({ kind: 'sqlite', path });
    const g = makeGrant();
    await a.insertGrant(g);
    await a.close();
    // Take the file back to its 0001 shape, with its data.
    const raw = new Database(path);
    raw.exec(`DROP INDEX grants_status_session_lease; DROP INDEX grants_status_created; ALTER TABLE grants DROP COLUMN session_lease_until;
              DROP TABLE ssh_keys; DROP TABLE connect_tokens; DELETE FROM stint_migration WHERE name > '0001_initial';`);
    raw.close();
    const b = await openStore({ kind: 'sqlite', path });
    assert.deepEqual(await b.getGrant(g.id), { ...g, sessionLeaseUntil: null });
    assert.deepEqual(await b.listSshKeys(), []);
    await b.close();
    // Applied but not recorded (a crash between the two): they run again without failing.
    const raw2 = new Database(path);
    raw2.exec(`DELETE FROM stint_migration WHERE name > '0001_initial';`);
    raw2.close();
    const c = await openStore({ kind: 'sqlite', path });
    assert.deepEqual(await c.getGrant(g.id), { ...g, sessionLeaseUntil: null });
    await c.close();
  });

  it('two processes appending to one file produce one valid chain', async () => {
    const path = join(dir, 'shared.db');
    const store = await openStore({ kind: 'sqlite', path });
    const worker = fileURLToPath(new URL('./testing/sqlite-append-child.ts', import.meta.url));
    const child = fork(worker, [path, '60'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Both start together, so each meets the other's write lock (with a
    // deferred BEGIN this test fails with SQLITE_BUSY). How finely they
    // interleave is up to SQLite's busy back-off, so it is not asserted.
    await once(child, 'message');
    child.send('go');
    for (let i = 0; i < 60; i++) {
      await store.transaction(async (tx) => {
        // Read first, then write, like every real store transaction.
        await tx.getMeta('parent');
        await tx.setMeta(`parent${i}`, 'x');
        await tx.appendAudit({ at: i, actor: 'parent', action: 'append' });
      });
    }
    assert.equal(await exited, 0);
    const events = await store.listAudit({});
    assert.equal(events.length, 120);
    assert.ok(verifyChain(events).ok);
    await store.close();
  });

  it('checkpoints the WAL in the background, without a commit doing it, and leaves no WAL behind on close', async () => {
    const path = join(dir, 'checkpoint.db');
    const store = await openStore({ kind: 'sqlite', path });
    const before = statSync(path).size;
    // Fewer WAL pages than even SQLite's default autocheckpoint (1000): only the worker checkpoints them.
    for (let i = 0; i < 40; i++) {
      await store.transaction(async (tx) => {
        await tx.insertGrant(makeGrant());
        await tx.appendAudit({ at: i, actor: 'stint', action: 'x', details: { i } });
      });
    }
    // Pages reach the database file only through a checkpoint.
    const deadline = Date.now() + 120_000;
    while (statSync(path).size <= before) {
      assert.ok(Date.now() < deadline, 'the database file never grew: nothing was checkpointed');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await store.listGrants({})).length, 40);
    await store.close();
    assert.equal(existsSync(`${path}-wal`), false, 'the last connection to close removed the WAL');
    const again = await openStore({ kind: 'sqlite', path });
    assert.equal((await again.listGrants({})).length, 40);
    assert.ok(verifyChain(await again.listAudit({})).ok);
    await again.close();
  });

  it('gives tokens made before 0006 an expiry 90 days after the upgrade, so no one is locked out by it', async () => {
    const path = join(dir, 'before-0006.db');
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(path) }) });
    const migrator = new Migrator({
      db: old,
      provider: { getMigrations: async () => ({ ...migrations(undefined) }) },
      migrationTableName,
      migrationLockTableName,
    });
    assert.equal((await migrator.migrateTo('0004_partial_due_indexes')).error, undefined);
    await old.destroy();
    const raw = new Database(path);
    raw.prepare("insert into tokens (id, user_name, hash, description, created_at, revoked_at) values ('tok_old', 'alice', 'h-old', null, 1, null)").run();
    raw.close();
    const before = Date.now();
    const store = await openStore({ kind: 'sqlite', path });
    const t = (await store.findTokenByHash('h-old'))!;
    assert.ok(t.expiresAt >= before + upgradedTokenTtlMs && t.expiresAt <= Date.now() + upgradedTokenTtlMs, String(t.expiresAt));
    assert.equal(t.lastUsedAt, null);
    assert.deepEqual(await store.listBreakGlass({ open: true }), []);
    await store.close();
  });

  it('turns the due indexes partial on a database made before 0004, and the expiry queries still find what is due', async () => {
    const path = join(dir, 'before-0004.db');
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(path) }) });
    const migrator = new Migrator({
      db: old,
      provider: { getMigrations: async () => ({ ...migrations(undefined) }) },
      migrationTableName,
      migrationLockTableName,
    });
    const { error } = await migrator.migrateTo('0003_grants_status_created');
    assert.equal(error, undefined);
    await old.destroy();

    const store = await openStore({ kind: 'sqlite', path });
    const t = 1_800_000_000_000;
    const due = makeGrant({ status: 'active', expiresAt: t - 1 });
    const later = makeGrant({ status: 'active', expiresAt: t + 60_000 });
    const issuing = makeGrant({ status: 'provisioning', activatedAt: null, expiresAt: null });
    const retrying = makeGrant({ status: 'revoke-failing', nextAttemptAt: t - 5 });
    const leased = makeGrant({ status: 'active', expiresAt: t + 3_600_000, sessionLeaseUntil: t - 2 });
    await store.transaction(async (tx) => {
      for (const g of [due, later, issuing, retrying, leased]) await tx.insertGrant(g);
    });
    assert.deepEqual(new Set((await store.listDueGrants(t, 10)).map((g) => g.id)), new Set([due.id, retrying.id, leased.id]));
    assert.equal(await store.nextDueAt(), t - 5);
    await store.close();

    const db = new Database(path, { readonly: true });
    const indexes = [
      ['grants_status_expires', 'expires_at', 4],
      ['grants_status_next_attempt', 'next_attempt_at', 1],
      ['grants_status_session_lease', 'session_lease_until', 1],
    ] as const;
    for (const [name, column, holds] of indexes) {
      const { sql } = db.prepare(`select sql from sqlite_master where type = 'index' and name = ?`).get(name) as { sql: string };
      assert.match(sql, new RegExp(`where "${column}" is not null$`, 'i'));
      // The grant being issued has none of those times, so it is in none of these indexes.
      const { n } = db.prepare(`select count(*) as n from grants indexed by ${name} where ${column} is not null`).get() as { n: number };
      assert.equal(n, holds, name);
    }
    db.close();
  });
});
