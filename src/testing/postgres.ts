// Test access to a real PostgreSQL server. `npm test` starts one server for
// the whole run (scripts/test-servers.ts) and exports STINT_TEST_PG_URL (a
// superuser URL); a test file run on its own starts an embedded server itself.
// Every test gets its own database, so files can run in parallel.

import pg from 'pg';
import { randomId } from '../core/ids.js';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../embedded/postgres.js';

let own: Promise<EmbeddedPostgresServer> | null = null;

/** Superuser connection URL of the test server (database `postgres`). */
export async function testPostgresUrl(): Promise<string> {
  const fromEnv = process.env.STINT_TEST_PG_URL;
  if (fromEnv) return fromEnv;
  own ??= startEmbeddedPostgres({ unref: true });
  const s = await own;
  return s.url();
}

/** The embedded server this process started, if any (for tests that stop/start it). */
export function ownEmbeddedServer(): Promise<EmbeddedPostgresServer> | null {
  return own;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export interface TestDatabase {
  name: string;
  /** Superuser URL for this database. */
  url: string;
  host: string;
  port: number;
  drop(): Promise<void>;
}

/** Creates a fresh, uniquely named database; `drop()` removes it. */
export async function createTestDatabase(prefix = 't', serverUrl?: string): Promise<TestDatabase> {
  const base = serverUrl ?? (await testPostgresUrl());
  const name = `${prefix}_${randomId(10)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const u = new URL(base);
  return {
    name,
    url: withDatabase(base, name),
    host: u.hostname,
    port: Number(u.port),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

// The server does not hold the event loop open (unref), so this runs when the
// tests are done; it stops the server and deletes its data once.
let destroyed = false;
process.on('beforeExit', () => {
  if (own && !destroyed) {
    destroyed = true;
    void own.then((s) => s.destroy()).catch(() => {});
  }
});
