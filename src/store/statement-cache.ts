// The store's hot statements (a grant's rows, its audit events, the token
// lookup) are built with Kysely once per shape and afterwards run as compiled
// SQL with new parameters. Building and compiling a Kysely query costs more
// than SQLite takes to run one of these small statements, and the issuance
// path runs about a dozen of them.
//
// A shape is named by its caller (the table and the columns it sets), and its
// builder makes the query from a list of values in the caller's order. The
// first time, the builder is given a distinct placeholder object per value:
// the shape is cached only if Kysely binds exactly those placeholders, in that
// order, and nothing else. A shape that fails the check, and a call with a
// value that is not a plain datum (Kysely could have turned an expression
// into SQL), are built by Kysely every time: a surprise costs speed, not
// correctness.

import { CompiledQuery, type Compilable } from 'kysely';

/** Stands for the value at `index` while a shape's parameter order is checked. */
class Slot {
  constructor(readonly index: number) {}
}

/** Values bound as they are whatever the query: no expression, list or builder among them. */
const plainDatum = (v: unknown) =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || Buffer.isBuffer(v);

export class StatementCache {
  readonly #shapes = new Map<string, string | null>();

  /** The compiled statement for `params`; `build(values)` makes the Kysely query for any values in that order. */
  get(shape: string, params: readonly unknown[], build: (values: readonly unknown[]) => Compilable): CompiledQuery {
    if (!params.every(plainDatum)) return build(params).compile();
    let sql = this.#shapes.get(shape);
    if (sql === undefined) {
      const slots = params.map((_, i) => new Slot(i));
      const probe = build(slots).compile();
      const bound = probe.parameters.length === slots.length && probe.parameters.every((p, i) => p === slots[i]);
      sql = bound ? probe.sql : null;
      this.#shapes.set(shape, sql);
    }
    return sql === null ? build(params).compile() : CompiledQuery.raw(sql, params as unknown[]);
  }
}

/** The keys of `row` that have a value (undefined ones have no column, as in Kysely), its values in that order, and the shape naming them. */
export function rowShape(table: string, row: object): { shape: string; keys: string[]; values: unknown[] } {
  const keys: string[] = [];
  const values: unknown[] = [];
  for (const [k, v] of Object.entries(row)) {
    if (v === undefined) continue;
    keys.push(k);
    values.push(v);
  }
  return { shape: `${table}(${keys.join(',')})`, keys, values };
}

/** The row with `keys` and `values` (rowShape's inverse), for a shape's builder. */
export const rowOf = (keys: readonly string[], values: readonly unknown[]): Record<string, unknown> => Object.fromEntries(keys.map((k, i) => [k, values[i]]));
