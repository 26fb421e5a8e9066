// The store's hot statements (a grant's rows, its audit events, the token
// lookup) are built with Kysely once per shape and afterwards run as compiled
// SQL with new parameters. Building and compiling a Kysely query costs more
// than SQLite takes to run one of these small statements, and the issuance
// path runs about a dozen of them.
//
// A shape is named by its caller (the table and the columns it sets). The
// first build of each shape is checked: its parameters must be exactly the
// values the caller will pass for the next ones, in the same order. A shape
// that fails the check is never cached and is built every time, so a
// surprise in how Kysely orders parameters costs speed, not correctness.

import { CompiledQuery, type Compilable } from 'kysely';

export class StatementCache {
  readonly #shapes = new Map<string, string | null>();

  /**
   * The compiled statement for `params`. `build` makes the Kysely query for
   * exactly these values; it runs on the first call for `shape` (and always,
   * for a shape whose check failed).
   */
  get(shape: string, params: readonly unknown[], build: () => Compilable): CompiledQuery {
    const sql = this.#shapes.get(shape);
    if (sql) return CompiledQuery.raw(sql, params as unknown[]);
    const compiled = build().compile();
    if (sql === undefined) {
      const same = compiled.parameters.length === params.length && compiled.parameters.every((p, i) => p === params[i]);
      this.#shapes.set(shape, same ? compiled.sql : null);
    }
    return compiled;
  }
}

/** The values of `row` in its key order, and the shape naming those keys (undefined values have no column, as in Kysely). */
export function rowShape(table: string, row: object): { shape: string; values: unknown[] } {
  const keys: string[] = [];
  const values: unknown[] = [];
  for (const [k, v] of Object.entries(row)) {
    if (v === undefined) continue;
    keys.push(k);
    values.push(v);
  }
  return { shape: `${table}(${keys.join(',')})`, values };
}
