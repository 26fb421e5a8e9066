import assert from 'node:assert/strict';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { rowShape, StatementCache } from './statement-cache.js';

interface Db {
  t: { id: string; a: number | null; b: string };
}
const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });

test('a shape is built once; later calls reuse its SQL with their own parameters', () => {
  const cache = new StatementCache();
  let builds = 0;
  const insert = (row: Db['t']) => {
    const { shape, values } = rowShape('t', row);
    return cache.get(`insert ${shape}`, values, () => {
      builds++;
      return db.insertInto('t').values(row);
    });
  };
  const first = insert({ id: 'x', a: 1, b: 'one' });
  const second = insert({ id: 'y', a: null, b: 'two' });
  assert.equal(builds, 1);
  assert.equal(second.sql, first.sql);
  assert.deepEqual(second.parameters, ['y', null, 'two']);
  // What Kysely itself makes for the second row, exactly.
  assert.deepEqual({ sql: second.sql, parameters: second.parameters }, (({ sql, parameters }) => ({ sql, parameters }))(db.insertInto('t').values({ id: 'y', a: null, b: 'two' }).compile()));
});

test('rowShape leaves out undefined values, as Kysely leaves out their columns', () => {
  assert.deepEqual(rowShape('t', { id: 'x', a: undefined, b: 'z' }), { shape: 't(id,b)', values: ['x', 'z'] });
  assert.notEqual(rowShape('t', { id: 'x', a: 1, b: 'z' }).shape, rowShape('t', { id: 'x', b: 'z' }).shape);
});

test('a shape whose parameters do not come out as the caller passes them is never cached', () => {
  const cache = new StatementCache();
  let builds = 0;
  // The caller claims [b, id] but the query binds [id, b]: the check at the first build catches it.
  const get = (id: string, b: string) =>
    cache.get('wrong order', [b, id], () => {
      builds++;
      return db.selectFrom('t').selectAll().where('id', '=', id).where('b', '=', b);
    });
  const one = get('x', 'bee');
  const two = get('y', 'cee');
  assert.equal(builds, 2);
  assert.deepEqual(one.parameters, ['x', 'bee']);
  assert.deepEqual(two.parameters, ['y', 'cee']);
});
