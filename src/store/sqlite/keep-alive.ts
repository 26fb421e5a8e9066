// better-sqlite3 12 builds its Database and Statement on node::ObjectWrap. On
// Node 24, ObjectWrap registers an environment cleanup hook for each object
// and removes it in its destructor, which asserts (and aborts the process)
// when V8 collects the object in a garbage collection that runs with no
// context entered: at exit, during the environment's cleanup, or from an idle
// task (WiseLibs/better-sqlite3#1515, closed without a fix in 12.x). An object
// that never becomes garbage is deleted by its cleanup hook instead, while the
// environment is alive, which is safe. So every such object the store is done
// with is kept reachable here until its thread ends. better-sqlite3 13 moved
// to node-addon-api and is free of this, but needs Node 22 or later.

import type BetterSqlite3 from 'better-sqlite3';

const retired = new Set<object>();

/** Keeps `native` (a better-sqlite3 Database or Statement) from being garbage collected. */
export function keepAlive<T extends object>(native: T): T {
  retired.add(native);
  return native;
}

/**
 * Runs `pragma <body>` through a statement that is kept alive (Database#pragma
 * prepares a statement and drops it), and returns its first row, if any.
 */
export function pragma(database: BetterSqlite3.Database, body: string): unknown {
  const stmt = keepAlive(database.prepare(`pragma ${body}`));
  return stmt.reader ? stmt.get() : stmt.run();
}
