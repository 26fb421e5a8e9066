import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { backendFrame, errorResponse } from './frames.js';
import { createHash } from 'node:crypto';
import {
  MAX_LOGGED_SQL,
  MAX_LOGGED_TAIL,
  MAX_TRACKED,
  MAX_TRACKED_SQL_CHARS,
  StatementTracker,
  rowsFromTag,
  type StatementEntry,
} from './statement-tracker.js';

const tag = (t: string) => backendFrame('C', Buffer.from(`${t}\0`));
const ready = () => backendFrame('Z', Buffer.from('I'));

function harness() {
  let now = 1_000;
  const out: StatementEntry[] = [];
  const t = new StatementTracker(
    () => now,
    (s) => out.push(s),
  );
  const client = (frame: Buffer) => t.fromClient(frame[0]!, frame.subarray(5));
  const server = (frame: Buffer) => t.fromServer(frame[0]!, frame.subarray(5));
  return { t, out, client, server, tick: (ms: number) => (now += ms) };
}

describe('rowsFromTag', () => {
  it('reads counts from the tags that carry one', () => {
    assert.equal(rowsFromTag('SELECT 5'), 5);
    assert.equal(rowsFromTag('INSERT 0 3'), 3);
    assert.equal(rowsFromTag('UPDATE 0'), 0);
    assert.equal(rowsFromTag('DELETE 12'), 12);
    assert.equal(rowsFromTag('COPY 7'), 7);
    assert.equal(rowsFromTag('MERGE 2'), 2);
    assert.equal(rowsFromTag('CREATE TABLE'), null);
    assert.equal(rowsFromTag('BEGIN'), null);
  });
});

describe('StatementTracker', () => {
  it('simple Query: timed until ReadyForQuery, counts of its statements added, first error kept', () => {
    const h = harness();
    h.client(serialize.query('SELECT 1; SELECT 2 FROM t; BAD'));
    h.tick(7);
    h.server(tag('SELECT 1'));
    h.server(tag('SELECT 4'));
    h.server(errorResponse('ERROR', '42601', 'syntax error at or near "BAD"'));
    h.server(ready());
    assert.deepEqual(h.out, [
      {
        at: new Date(1000).toISOString(),
        protocol: 'simple',
        sql: 'SELECT 1; SELECT 2 FROM t; BAD',
        ms: 7,
        rows: 5,
        error: '42601 syntax error at or near "BAD"',
      },
    ]);
  });

  it('extended: each Execute ends at its CommandComplete, with the parameter count and never the values', () => {
    const h = harness();
    h.client(serialize.parse({ name: '', text: 'SELECT * FROM t WHERE a = $1 AND b = $2' }));
    h.client(serialize.bind({ values: ['hunter2', 'x'] }));
    h.client(serialize.describe({ type: 'P' }));
    h.client(serialize.execute({}));
    h.client(serialize.sync());
    h.tick(3);
    h.server(backendFrame('1'));
    h.server(tag('SELECT 2'));
    h.server(ready());
    assert.equal(h.out.length, 1);
    assert.deepEqual(h.out[0], {
      at: new Date(1000).toISOString(),
      protocol: 'extended',
      sql: 'SELECT * FROM t WHERE a = $1 AND b = $2',
      ms: 3,
      rows: 2,
      params: 2,
    });
    assert.ok(!JSON.stringify(h.out).includes('hunter2'));
  });

  it('extended: after an error the rest of the batch is logged as not executed', () => {
    const h = harness();
    h.client(serialize.parse({ name: 'a', text: 'SELECT 1/0' }));
    h.client(serialize.bind({ statement: 'a' }));
    h.client(serialize.execute({}));
    h.client(serialize.parse({ name: 'b', text: 'SELECT 2' }));
    h.client(serialize.bind({ statement: 'b' }));
    h.client(serialize.execute({}));
    h.client(serialize.sync());
    h.server(errorResponse('ERROR', '22012', 'division by zero'));
    h.server(ready());
    assert.equal(h.out.length, 2);
    assert.equal(h.out[0]!.sql, 'SELECT 1/0');
    assert.equal(h.out[0]!.error, '22012 division by zero');
    assert.equal(h.out[1]!.sql, 'SELECT 2');
    assert.match(h.out[1]!.error!, /not executed/);
  });

  it('named prepared statements are found again on later Binds', () => {
    const h = harness();
    h.client(serialize.parse({ name: 'q', text: 'UPDATE t SET a = $1' }));
    h.client(serialize.sync());
    h.server(ready());
    for (let i = 0; i < 2; i++) {
      h.client(serialize.bind({ statement: 'q', values: [String(i)] }));
      h.client(serialize.execute({}));
      h.client(serialize.sync());
      h.server(tag('UPDATE 3'));
      h.server(ready());
    }
    assert.deepEqual(
      h.out.map((s) => [s.sql, s.rows]),
      [
        ['UPDATE t SET a = $1', 3],
        ['UPDATE t SET a = $1', 3],
      ],
    );
  });

  it('remembers at most MAX_TRACKED prepared statements (and MAX_TRACKED_SQL_CHARS of their text): the oldest are forgotten', () => {
    const h = harness();
    const run = (statement: string) => {
      h.client(serialize.bind({ statement, values: [] }));
      h.client(serialize.execute({}));
      h.server(tag('SELECT 1'));
      return h.out.at(-1)!.sql;
    };
    // Never closed, and the server may have refused them all: the gateway still must not keep every one.
    for (let i = 0; i < MAX_TRACKED + 10; i++) h.client(serialize.parse({ name: `s${i}`, text: `SELECT ${i}` }));
    assert.equal(run('s0'), '<prepared statement "s0">');
    assert.equal(run('s9'), '<prepared statement "s9">');
    assert.equal(run('s10'), 'SELECT 10');
    assert.equal(run(`s${MAX_TRACKED + 9}`), `SELECT ${MAX_TRACKED + 9}`);
    // Re-preparing a name makes it the newest; closing one frees its place.
    h.client(serialize.parse({ name: 's10', text: 'SELECT ten' }));
    h.client(serialize.close({ type: 'S', name: 's11' }));
    h.client(serialize.parse({ name: 'extra', text: 'SELECT extra' }));
    assert.equal(run('s12'), 'SELECT 12', 'the closed one made room: nothing else was forgotten');
    assert.equal(run('s10'), 'SELECT ten');
    // Long statements: bounded by their text too (each is clipped to MAX_LOGGED_SQL).
    const long = (i: number) => `SELECT '${String(i).padEnd(MAX_LOGGED_SQL + 100, 'x')}'`;
    const fit = Math.floor(MAX_TRACKED_SQL_CHARS / (MAX_LOGGED_SQL + 1));
    for (let i = 0; i < fit + 5; i++) h.client(serialize.parse({ name: `long${i}`, text: long(i) }));
    assert.equal(run('long0'), '<prepared statement "long0">');
    assert.equal(run(`long${fit + 4}`), `${long(fit + 4).slice(0, MAX_LOGGED_SQL)}…`);
  });

  it('portals are bounded by their SQL text too: one per long statement cannot keep every statement alive', () => {
    const h = harness();
    const long = (i: number) => `SELECT '${String(i).padEnd(MAX_LOGGED_SQL, 'x')}'`;
    const fit = Math.floor(MAX_TRACKED_SQL_CHARS / (MAX_LOGGED_SQL + 1));
    for (let i = 0; i < fit + 5; i++) {
      h.client(serialize.parse({ name: `s${i}`, text: long(i) }));
      h.client(serialize.bind({ statement: `s${i}`, portal: `p${i}`, values: [] }));
    }
    const run = (portal: string) => {
      h.client(serialize.execute({ portal }));
      h.server(tag('SELECT 1'));
      return h.out.at(-1)!.sql;
    };
    assert.equal(run('p0'), '<portal "p0">', 'the oldest portal was forgotten with its text');
    assert.equal(run(`p${fit + 4}`), `${long(fit + 4).slice(0, MAX_LOGGED_SQL)}…`);
  });

  it('a statement longer than the log keeps: its beginning, and its length, hash and end (issue 18)', () => {
    const h = harness();
    const sql = `SELECT '${'é'.repeat(MAX_LOGGED_SQL)}' AS tail_marker`;
    h.client(serialize.query(sql));
    h.server(ready());
    const e = h.out[0]!;
    assert.equal(e.sql, `${sql.slice(0, MAX_LOGGED_SQL)}…`);
    assert.equal(e.cut?.bytes, Buffer.byteLength(sql));
    assert.equal(e.cut?.sha256, createHash('sha256').update(sql).digest('hex'));
    assert.equal(e.cut?.tail, sql.slice(-MAX_LOGGED_TAIL));
    // Prepared the same way, and each Execute of it carries the same marker.
    h.client(serialize.parse({ name: 'big', text: sql }));
    h.client(serialize.bind({ statement: 'big', values: [] }));
    h.client(serialize.execute({}));
    h.server(tag('SELECT 1'));
    assert.deepEqual(h.out[1]!.cut, e.cut);
    // A short one has none.
    h.client(serialize.query('SELECT 1'));
    h.server(ready());
    assert.equal(h.out[2]!.cut, undefined);
  });

  it('a fast-path FunctionCall is recorded as a statement', () => {
    const h = harness();
    const body = Buffer.alloc(8);
    body.writeUInt32BE(1598, 0); // oid, then no format codes and no arguments
    const frame = Buffer.concat([Buffer.from('F'), Buffer.from([0, 0, 0, body.length + 4]), body]);
    h.client(frame);
    h.server(ready());
    assert.equal(h.out[0]!.sql, '<function call: oid 1598>');
  });

  it('password literals in SQL are scrubbed', () => {
    const h = harness();
    h.client(serialize.query("ALTER ROLE me PASSWORD 'topsecret'"));
    h.server(tag('ALTER ROLE'));
    h.server(ready());
    assert.ok(!h.out[0]!.sql.includes('topsecret'));
    assert.equal(h.out[0]!.rows, null);
  });

  it('statements in flight at the end are logged as cut', () => {
    const h = harness();
    h.client(serialize.query('SELECT pg_sleep(100)'));
    h.t.flush('grant-expired');
    assert.match(h.out[0]!.error!, /session ended \(grant-expired\)/);
  });
});
