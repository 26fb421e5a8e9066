import assert from 'node:assert/strict';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { rowOf, rowShape, StatementCache } from './statement-cache.js';

interface Db {
  t: { id: string; a: number | null; b: string };
}
const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
const plain = ({ sql, parameters }: { sql: string; parameters: readonly unknown[] }) => ({ sql, parameters });

test('a shape is checked once; later calls reuse its SQL with their own parameters, exactly as Kysely builds them', () => {
  const cache = new StatementCache();
  let builds = 0;
  const insert = (row: Db['t']) => {
    const { shape, keys, values } = rowShape('t', row);
    return cache.get(`insert ${shape}`, values, (v) => {
      builds++;
      return db.insertInto('t').values(rowOf(keys, v) as Db['t']);
    });
  };
  insert({ id: 'x', a: 1, b: 'one' });
  const second = insert({ id: 'y', a: null, b: 'two' });
  const third = insert({ id: 'z', a: 3, b: 'three' });
  assert.equal(builds, 1, 'built once, for the check');
  assert.deepEqual(plain(second), plain(db.insertInto('t').values({ id: 'y', a: null, b: 'two' }).compile()));
  assert.deepEqual(plain(third), plain(db.insertInto('t').values({ id: 'z', a: 3, b: 'three' }).compile()));
});

test('rowShape leaves out undefined values, as Kysely leaves out their columns; rowOf puts a row back together', () => {
  assert.deepEqual(rowShape('t', { id: 'x', a: undefined, b: 'z' }), { shape: 't(id,b)', keys: ['id', 'b'], values: ['x', 'z'] });
  assert.notEqual(rowShape('t', { id: 'x', a: 1, b: 'z' }).shape, rowShape('t', { id: 'x', b: 'z' }).shape);
  assert.deepEqual(rowOf(['id', 'b'], ['x', 'z']), { id: 'x', b: 'z' });
});

test('a builder that binds the values in another order than the caller passes them is never cached, even when the first values are equal', () => {
  const cache = new StatementCache();
  let builds = 0;
  // The caller passes [id, b] but the builder binds b before id.
  const get = (id: string, b: string) =>
    cache.get('wrong order', [id, b], ([i, bb]) => {
      builds++;
      return db
        .selectFrom('t')
        .selectAll()
        .where('b', '=', bb as string)
        .where('id', '=', i as string);
    });
  get('x', 'x');
  const two = get('y', 'z');
  assert.deepEqual(plain(two), plain(db.selectFrom('t').selectAll().where('b', '=', 'z').where('id', '=', 'y').compile()));
  assert.equal(builds, 1 + 1 + 1, 'the check, then a build for each call');
});

test('a builder that binds fewer or more parameters than values is never cached', () => {
  const cache = new StatementCache();
  const q = cache.get('constant', ['x', 7], ([i]) =>
    db
      .selectFrom('t')
      .selectAll()
      .where('id', '=', i as string)
      .where('a', '=', 7),
  );
  assert.deepEqual(q.parameters, ['x', 7]);
  const again = cache.get('constant', ['y', 8], ([i]) =>
    db
      .selectFrom('t')
      .selectAll()
      .where('id', '=', i as string)
      .where('a', '=', 7),
  );
  assert.deepEqual(again.parameters, ['y', 7], 'built by Kysely, not run with the cached text and the wrong values');
});

test('a value that is not a plain datum goes through Kysely every time', () => {
  const cache = new StatementCache();
  cache.get('s', ['x'], ([i]) =>
    db
      .selectFrom('t')
      .selectAll()
      .where('id', '=', i as string),
  );
  let built = 0;
  const expr = sql<string>`upper(${'q'})`;
  const q = cache.get('s', [expr], ([i]) => {
    built++;
    return db
      .selectFrom('t')
      .selectAll()
      .where('id', '=', i as never);
  });
  assert.equal(built, 1);
  assert.match(q.sql, /upper\(\?\)/);
  assert.deepEqual(q.parameters, ['q']);
});
