// PostgreSQL store over a pg.Pool; several brokers may share one database.
// The pool parses int8 to JS numbers (timestamps, seq and counts are bigint
// columns), on this pool only, so other pg users in the process are unaffected.

import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Store } from '../../core/ports.js';
import { createPgPool } from '../../pg-pool.js';
import { createKyselyStore } from '../kysely-store.js';
import { withOutageErrors } from '../outage.js';
import type { Database } from '../schema.js';

export interface PostgresStoreOptions {
  connectionString: string;
  /** Schema for Stint's tables (created by migrate()); default `public`. */
  schema?: string;
  /** Pool size; default 10. */
  maxConnections?: number;
  /** Errors of pooled connections (server restart, network) that no query took; they are otherwise dropped. */
  onPoolError?: (err: Error) => void;
}

/** Millisecond timestamps fit a double exactly; anything beyond would be silently rounded, so refuse it. */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} does not fit a JavaScript number`);
  return n;
}

const getTypeParser: typeof pg.types.getTypeParser = (id, format) =>
  id === pg.types.builtins.INT8 && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(id, format);

// Goes into the startup `options` parameter, which has its own escaping rules;
// a plain identifier needs none and cannot smuggle other settings in.
const schemaName = /^[a-z_][a-z0-9_]{0,62}$/;

/** Creates the pool lazily connected; call `migrate()` before use. */
export function createPostgresStore(opts: PostgresStoreOptions): Store {
  const schema = opts.schema ?? 'public';
  if (!schemaName.test(schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use lowercase letters, digits and _`);
  const pool = createPgPool(
    {
      connectionString: opts.connectionString,
      max: opts.maxConnections ?? 10,
      types: { getTypeParser },
      // An explicit search_path, so tables never land in a "$user" schema that
      // happens to exist, and unqualified names always mean Stint's tables.
      options: `-c search_path=${schema}`,
    },
    opts.onPoolError,
  );
  const db = new Kysely<Database>({ dialect: withOutageErrors(new PostgresDialect({ pool })) });
  return createKyselyStore(db, { dialect: 'postgres', schema });
}
