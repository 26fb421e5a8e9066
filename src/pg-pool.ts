// A pg connection pool whose connection errors never end the process.
//
// pg emits 'error' on a client whose connection fails while no query is
// running to take the error: the server terminated it (a restart, a
// failover, pg_terminate_backend, idle_session_timeout) or the network
// reset it between two statements. pg-pool listens for that on idle clients
// only, and stops listening while a client is checked out — yet a
// transaction (Kysely's, a connector's account lock) holds its client
// between statements. An 'error' event nobody listens for is thrown, and
// the broker would exit with every grant, session and gateway it serves.
//
// So every client gets a listener for its whole life. The next query on a
// broken client fails where its caller handles the error, and pg-pool
// discards a client that is no longer queryable when it is released.

import pg from 'pg';

export function createPgPool(config: pg.PoolConfig, onError?: (err: Error) => void): pg.Pool {
  const pool = new pg.Pool(config);
  pool.on('connect', (client) => client.on('error', (err: Error) => onError?.(err)));
  // Also emitted for an idle client's error (pg-pool's own listener re-emits it): reported once, above.
  pool.on('error', () => {});
  return pool;
}
