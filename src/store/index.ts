// Entry point of the store: open by kind, migrated and ready.

import type { Store } from '../core/ports.js';
import { createPostgresStore } from './postgres/postgres-store.js';
import { createSqliteStore } from './sqlite/sqlite-store.js';

export { createPostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
export { createSqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { createKyselyStore } from './kysely-store.js';

export type StoreSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; connectionString: string; schema?: string; maxConnections?: number };

/** Opens the store and brings its schema to the latest version. */
export async function openStore(spec: StoreSpec): Promise<Store> {
  const store =
    spec.kind === 'sqlite'
      ? createSqliteStore({ path: spec.path })
      : createPostgresStore({ connectionString: spec.connectionString, schema: spec.schema, maxConnections: spec.maxConnections });
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}
