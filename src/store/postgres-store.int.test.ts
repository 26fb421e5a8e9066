import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { verifyChain } from '../core/audit/chain.js';
import { createTestDatabase, ownEmbeddedServer } from '../testing/postgres.js';
import { createPostgresStore, openStore } from './index.js';
import { storeSuite } from './testing/store-suite.js';
import { claimsSuite } from './testing/store-suite-claims.js';

// A server this file started itself (STINT_TEST_PG_URL unset) keeps the
// process alive, so the 'beforeExit' cleanup in testing/postgres.ts never runs.
after(async () => {
  await (await ownEmbeddedServer())?.destroy();
});

storeSuite('postgres', async () => {
  const db = await createTestDatabase('store');
  const store = await openStore({ kind: 'postgres', connectionString: db.url });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});

claimsSuite('postgres', async () => {
  const db = await createTestDatabase('store');
  const store = await openStore({ kind: 'postgres', connectionString: db.url });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});

describe('postgres store specifics', () => {
  it('two brokers (separate pools) appending at once produce one valid chain', async () => {
    const db = await createTestDatabase('store');
    const a = await openStore({ kind: 'postgres', connectionString: db.url });
    const b = await openStore({ kind: 'postgres', connectionString: db.url });
    try {
      const work = (s: typeof a, name: string) =>
        Array.from({ length: 40 }, (_, i) =>
          s.transaction(async (tx) => {
            await tx.setMeta(`${name}${i}`, 'x');
            return tx.appendAudit({ at: i, actor: name, action: 'append' });
          }),
        );
      await Promise.all([...work(a, 'a'), ...work(b, 'b')]);
      const events = await a.listAudit({});
      assert.deepEqual(
        events.map((e) => e.seq),
        Array.from({ length: 80 }, (_, i) => i + 1),
      );
      assert.ok(verifyChain(events).ok);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });

  it('keeps its tables in the configured schema; concurrent first migrations are safe', async () => {
    const db = await createTestDatabase('store');
    const stores = [0, 1, 2].map(() => createPostgresStore({ connectionString: db.url, schema: 'stint_app', maxConnections: 2 }));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      await stores[0]!.setMeta('k', 'v');
      assert.equal(await stores[1]!.getMeta('k'), 'v');
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ table_schema: string }>(
          `select distinct table_schema from information_schema.tables where table_name in ('grants', 'meta', 'stint_migration')`,
        );
        assert.deepEqual(
          rows.map((r) => r.table_schema),
          ['stint_app'],
        );
      } finally {
        await client.end();
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await db.drop();
    }
  });

  it('rejects a schema name that is not a plain identifier', () => {
    assert.throws(() => createPostgresStore({ connectionString: 'postgres://x@127.0.0.1/x', schema: 'a -c log_statement=all' }), /invalid PostgreSQL schema/);
  });
});
