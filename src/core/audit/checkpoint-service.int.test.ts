// The checkpoint service on both real stores: when the worker signs, one key
// and one checkpoint per seq for brokers sharing a store, and never a
// signature over a broken chain.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../../store/index.js';
import { FakeClock } from '../../testing/broker.js';
import { createTestDatabase, ownEmbeddedServer } from '../../testing/postgres.js';
import { createVault } from '../../vault/vault.js';
import { nullLogger, type Store } from '../ports.js';
import { createCheckpointService } from './checkpoint-service.js';
import { checkpointSignedBy, parsePublicKey, windowDigest } from './signing.js';

after(async () => {
  await (await ownEmbeddedServer())?.destroy();
});

interface Fixture {
  open(): Promise<Store>;
  /** Runs SQL beside the broker, as someone with write access to the store would. */
  exec(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

const fixtures: Record<string, () => Promise<Fixture>> = {
  sqlite: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stint-cp-'));
    const path = join(dir, 'stint.db');
    return {
      open: () => openStore({ kind: 'sqlite', path }),
      exec: async (sql) => {
        const db = new Database(path);
        try {
          db.exec(sql);
        } finally {
          db.close();
        }
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  postgres: async () => {
    const db = await createTestDatabase('cp');
    return {
      open: () => openStore({ kind: 'postgres', connectionString: db.url }),
      exec: async (sql) => {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          await c.query(sql);
        } finally {
          await c.end();
        }
      },
      cleanup: () => db.drop(),
    };
  },
};

const vault = createVault(Buffer.alloc(32, 9));
const append = async (store: Store, n: number) => {
  for (let i = 0; i < n; i++) await store.appendAudit({ at: 1_700_000_000_000 + i, actor: 'alice', action: 'grant.activated', details: { i } });
};

for (const [name, make] of Object.entries(fixtures)) {
  describe(`audit checkpoints on ${name}`, () => {
    it('signs after everyEvents or everyMs, whichever first, and only when there is something new', async () => {
      const f = await make();
      const store = await f.open();
      try {
        await store.migrate();
        const clock = new FakeClock(1_700_000_000_000);
        const service = createCheckpointService({ store, vault, clock, log: nullLogger, settings: { everyEvents: 10, everyMs: 60_000 } });
        assert.equal(await service.tick(), null, 'an empty chain is not signed');
        await append(store, 25);
        const first = await service.tick();
        assert.ok(first && first.seq === 25 && first.fromSeq === 0 && first.windowHashes.length === 25);
        await append(store, 5);
        assert.equal(await service.tick(), null, '5 new events and a minute not gone by');
        clock.advance(60_000);
        const second = await service.tick();
        assert.ok(second && second.seq === 30 && second.fromSeq === 25);
        assert.equal(await service.tick(), null);
        const key = parsePublicKey((await service.publicKey()).pem);
        const stored = await service.list(0, 10);
        assert.deepEqual(
          stored.map((c) => c.seq),
          [25, 30],
        );
        for (const c of stored) {
          assert.ok(checkpointSignedBy(c, key));
          assert.equal(windowDigest(c.windowHashes), c.window);
        }
        const events = await store.listAudit({ afterSeq: 25, limit: 10 });
        assert.deepEqual(
          stored[1]!.windowHashes,
          events.map((e) => e.hash),
        );
      } finally {
        await store.close();
        await f.cleanup();
      }
    });

    // Brokers share only a PostgreSQL store (one broker per SQLite file).
    if (name === 'postgres')
      it('two brokers on one store share one key and make one checkpoint per seq', async () => {
        const f = await make();
        const a = await f.open();
        const b = await f.open();
        try {
          await a.migrate();
          await append(a, 12);
          const clock = new FakeClock();
          const sa = createCheckpointService({ store: a, vault, clock, log: nullLogger });
          const sb = createCheckpointService({ store: b, vault, clock, log: nullLogger });
          const [ka, kb] = await Promise.all([sa.publicKey(), sb.publicKey()]);
          assert.equal(ka.keyId, kb.keyId);
          const [ca, cb] = await Promise.all([sa.checkpoint(), sb.checkpoint()]);
          assert.equal(ca!.seq, 12);
          assert.equal(cb!.seq, 12);
          assert.equal((await a.listAuditCheckpoints(0, 10)).length, 1);
        } finally {
          await a.close();
          await b.close();
          await f.cleanup();
        }
      });

    it('refuses to sign over a broken chain', async () => {
      const f = await make();
      const store = await f.open();
      try {
        await store.migrate();
        await append(store, 6);
        await f.exec(`UPDATE audit_events SET actor = 'mallory' WHERE seq = 4`);
        const service = createCheckpointService({ store, vault, clock: new FakeClock(), log: nullLogger });
        await assert.rejects(service.checkpoint(), /the audit chain is broken at event 4 \(modified\); not signing a checkpoint/);
        assert.deepEqual(await store.listAuditCheckpoints(0, 10), []);
      } finally {
        await store.close();
        await f.cleanup();
      }
    });
  });
}
