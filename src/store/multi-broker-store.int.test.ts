// Several brokers on one PostgreSQL store, at the store's level: brokers
// starting together on a fresh schema migrate it once (Kysely's migrator
// holds an advisory lock), a broker refuses a schema newer than it knows, and
// brokers claiming due work at once (each with its own pool) never share a grant.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase, ownEmbeddedServer } from '../testing/postgres.js';
import { openStore } from './index.js';
import { migrations } from './migrations.js';
import { migrationTableName } from './schema.js';
import { makeGrant, t0 } from './testing/fixtures.js';

after(async () => {
  await (await ownEmbeddedServer())?.destroy();
});

async function query(url: string, text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

describe('several brokers on one PostgreSQL store', () => {
  it('five brokers starting together on a fresh schema migrate it once', async () => {
    const db = await createTestDatabase('mig');
    try {
      const stores = await Promise.all(Array.from({ length: 5 }, () => openStore({ kind: 'postgres', connectionString: db.url })));
      await Promise.all(stores.map((s) => s.close()));
      const rows = (await query(db.url, `SELECT name FROM ${migrationTableName} ORDER BY name`)).rows.map((r) => r.name as string);
      assert.deepEqual(rows, Object.keys(migrations(undefined)).sort(), 'each migration recorded exactly once');
      const tables = (await query(db.url, `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'brokers'`)).rows[0].n;
      assert.equal(tables, 1);
    } finally {
      await db.drop();
    }
  });

  it('a broker refuses a store whose schema is newer than it knows, naming both versions, and changes nothing', async () => {
    const db = await createTestDatabase('mig');
    try {
      (await openStore({ kind: 'postgres', connectionString: db.url })).close();
      await query(db.url, `INSERT INTO ${migrationTableName} (name, timestamp) VALUES ('9999_from_the_future', now()::text)`);
      const known = Object.keys(migrations(undefined)).sort().at(-1)!;
      await assert.rejects(
        openStore({ kind: 'postgres', connectionString: db.url }),
        (err: Error) => err.message.includes('9999_from_the_future') && err.message.includes(known) && /newer than this broker knows/.test(err.message),
      );
      const n = (await query(db.url, `SELECT count(*)::int AS n FROM ${migrationTableName}`)).rows[0].n;
      assert.equal(n, Object.keys(migrations(undefined)).length + 1);
    } finally {
      await db.drop();
    }
  });

  it('SQLite too refuses a newer schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stint-mig-'));
    try {
      const path = join(dir, 'stint.db');
      const s = await openStore({ kind: 'sqlite', path });
      await s.close();
      const { default: Database } = await import('better-sqlite3');
      const raw = new Database(path);
      raw.prepare(`INSERT INTO ${migrationTableName} (name, timestamp) VALUES ('9999_from_the_future', 'x')`).run();
      raw.close();
      const latest = Object.keys(migrations(undefined)).sort().at(-1)!;
      await assert.rejects(
        openStore({ kind: 'sqlite', path }),
        new RegExp(`schema is at version 9999_from_the_future, newer than this broker knows \\(${latest}\\)`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('three brokers claiming 600 due grants at once, each with its own pool, never share one', async () => {
    const db = await createTestDatabase('claims');
    const stores = await Promise.all(Array.from({ length: 3 }, () => openStore({ kind: 'postgres', connectionString: db.url })));
    try {
      const now = t0 + 1_000_000;
      const grants = Array.from({ length: 600 }, (_, i) => makeGrant({ status: 'active', expiresAt: now - 1 - (i % 7) }));
      for (let i = 0; i < grants.length; i += 100)
        await stores[0]!.transaction(async (tx) => Promise.all(grants.slice(i, i + 100).map((g) => tx.insertGrant(g))));
      // Each broker claims in chunks until nothing is left, all at once.
      const claimed = await Promise.all(
        stores.map(async (s, b) => {
          const mine: string[] = [];
          for (;;) {
            const got = await s.claimDueGrants(now, 32, `b${b}`, now + 60_000);
            if (got.length === 0) return mine;
            mine.push(...got.map((g) => g.id));
          }
        }),
      );
      const all = claimed.flat();
      assert.equal(all.length, 600, 'every due grant claimed');
      assert.equal(new Set(all).size, 600, 'none claimed twice');
      const holders = (await query(db.url, `SELECT claimed_by, count(*)::int AS n FROM grants GROUP BY claimed_by ORDER BY 1`)).rows;
      assert.deepEqual(
        holders.map((r) => [r.claimed_by, r.n]),
        claimed.map((c, b) => [`b${b}`, c.length]).filter(([, n]) => n !== 0),
      );
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await db.drop();
    }
  });
});
