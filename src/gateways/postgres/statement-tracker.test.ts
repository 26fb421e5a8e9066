import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { backendFrame, errorResponse } from './frames.js';
import { StatementTracker, rowsFromTag, type StatementEntry } from './statement-tracker.js';

const tag = (t: string) => backendFrame('C', Buffer.from(`${t}\0`));
const ready = () => backendFrame('Z', Buffer.from('I'));

function harness() {
  let now = 1_000;
  const out: StatementEntry[] = [];
  const t = new StatementTracker(() => now, (s) => out.push(s));
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
    assert.deepEqual(h.out, [{ at: new Date(1000).toISOString(), protocol: 'simple', sql: 'SELECT 1; SELECT 2 FROM t; BAD', ms: 7, rows: 5, error: '42601 syntax error at or near "BAD"' }]);
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
    assert.deepEqual(h.out[0], { at: new Date(1000).toISOString(), protocol: 'extended', sql: 'SELECT * FROM t WHERE a = $1 AND b = $2', ms: 3, rows: 2, params: 2 });
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
    assert.deepEqual(h.out.map((s) => [s.sql, s.rows]), [['UPDATE t SET a = $1', 3], ['UPDATE t SET a = $1', 3]]);
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
