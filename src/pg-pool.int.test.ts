// Connection errors on a real PostgreSQL: the server ends a pooled
// connection while a client holds it (between two statements of a
// transaction, or with a query running) or while it is idle. None of these
// may end the process: without createPgPool's listener each one is an
// 'error' event with no listener, thrown as an uncaught exception.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createPgPool } from './pg-pool.js';
import { createTestDatabase, type TestDatabase } from './testing/postgres.js';

describe('createPgPool (real PostgreSQL)', () => {
  let db: TestDatabase;
  let su: pg.Client;

  before(async () => {
    db = await createTestDatabase('pool');
    su = new pg.Client({ connectionString: db.url });
    su.on('error', () => {});
    await su.connect();
  });
  after(async () => {
    await su?.end();
    await db?.drop();
  });

  async function pidOf(c: pg.PoolClient): Promise<number> {
    return (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  }
  const ended = (c: pg.PoolClient) => new Promise<void>((resolve) => c.once('end', () => resolve()));
  const terminate = (pid: number) => su.query('SELECT pg_terminate_backend($1)', [pid]);

  it('a connection ended between two statements of a transaction: the next statement fails, and the pool serves a working connection', async () => {
    const errors: Error[] = [];
    const pool = createPgPool({ connectionString: db.url, max: 1 }, (err) => errors.push(err));
    try {
      const c = await pool.connect();
      await c.query('BEGIN');
      const pid = await pidOf(c);
      const gone = ended(c);
      await terminate(pid);
      await gone;
      await assert.rejects(c.query('SELECT 1'), /not queryable|Connection terminated/);
      c.release();
      const d = await pool.connect();
      try {
        assert.notEqual(await pidOf(d), pid, 'a new connection, not the dead one');
      } finally {
        d.release();
      }
      // pg reports the server's message, then the end of the connection.
      assert.match(errors[0]?.message ?? '', /terminating connection due to administrator command/);
    } finally {
      await pool.end();
    }
  });

  it('a connection ended while its query runs: the query fails, nothing else is thrown', async () => {
    const pool = createPgPool({ connectionString: db.url, max: 1 });
    try {
      const c = await pool.connect();
      const pid = await pidOf(c);
      const running = c.query('SELECT pg_sleep(600)');
      const failed = assert.rejects(running);
      for (const deadline = Date.now() + 120_000; ;) {
        const r = await su.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [pid]);
        if (r.rowCount) break;
        assert.ok(Date.now() < deadline, 'the query never started');
        await new Promise((res) => setTimeout(res, 10));
      }
      const gone = ended(c);
      await terminate(pid);
      await failed;
      await gone; // the connection's end comes after the query's error, still before the client is released
      c.release(true);
      const d = await pool.connect();
      assert.deepEqual((await d.query('SELECT 1 AS x')).rows, [{ x: 1 }]);
      d.release();
    } finally {
      await pool.end();
    }
  });

  it('an idle connection ended by the server is dropped from the pool and reported once', async () => {
    const errors: Error[] = [];
    const pool = createPgPool({ connectionString: db.url, max: 1 }, (err) => errors.push(err));
    try {
      const c = await pool.connect();
      const pid = await pidOf(c);
      const gone = ended(c);
      c.release();
      await terminate(pid);
      await gone;
      assert.equal(pool.idleCount, 0, 'the dead connection left the pool');
      const d = await pool.connect();
      assert.notEqual(await pidOf(d), pid);
      d.release();
      assert.equal(errors.length, 1);
    } finally {
      await pool.end();
    }
  });
});
