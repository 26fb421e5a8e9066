import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './log.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination: sink }), lines };
}
const flush = () => new Promise((r) => setImmediate(r));

test('secrets are censored at the top of a line, one level down, and in request headers', async () => {
  const { log, lines } = capture();
  log.info({ password: 'p1', secret: 's1', token: 't1', authorization: 'Bearer a1', adminSecret: 'x1', grantId: 'gr_1' }, 'top');
  log.info({ target: { name: 'pg', adminSecret: 'x2', password: 'p2' }, conn: { token: 't2', secret: 's2', authorization: 'a2' }, n: 1 }, 'nested');
  log.info({ req: { method: 'GET', headers: { authorization: 'Bearer a3', cookie: 'stint_session=c3', accept: '*/*' } } }, 'request');
  await flush();
  const text = JSON.stringify(lines);
  for (const secret of ['p1', 's1', 't1', 'a1', 'x1', 'x2', 'p2', 't2', 's2', 'a2', 'a3', 'c3']) assert.ok(!text.includes(secret), `${secret} reached the log`);
  assert.equal(lines[0]!.grantId, 'gr_1');
  assert.deepEqual(lines[1]!.target, { name: 'pg', adminSecret: '***', password: '***' });
  assert.deepEqual(lines[1]!.conn, { token: '***', secret: '***', authorization: '***' });
  assert.deepEqual((lines[2]!.req as { headers: unknown }).headers, { authorization: '***', cookie: '***', accept: '*/*' });
});

test('censoring copies: the logged objects are left as they were', async () => {
  const { log } = capture();
  const target = { name: 'pg', adminSecret: 'kept' };
  const line = { target, password: 'kept too' };
  log.warn(line, 'x');
  await flush();
  assert.equal(target.adminSecret, 'kept');
  assert.equal(line.password, 'kept too');
  assert.equal(line.target, target);
});

test('lines without secrets are written as given', async () => {
  const { log, lines } = capture();
  log.info({ grantId: 'gr_2', roles: ['app_read'], detail: { account: 'stint_alice_1' } }, 'plain');
  await flush();
  assert.deepEqual(lines[0]!.detail, { account: 'stint_alice_1' });
  assert.deepEqual(lines[0]!.roles, ['app_read']);
  assert.equal(lines[0]!.msg, 'plain');
});

test('errors, objects with toJSON and child bindings are censored too', async () => {
  const { log, lines } = capture();
  class AuthError extends Error {}
  const err = Object.assign(new AuthError('could not connect', { cause: new Error('refused') }), { token: 't4' });
  const shown = { toJSON: () => ({ host: 'db', password: 'p5' }) };
  log.error({ err, conn: shown, at: new Date(0) }, 'x');
  log.child({ target: { name: 'pg', adminSecret: 'x6' } }).info({ n: 1 }, 'from a child');
  log
    .child({ a: 1 })
    .child({ conn: { password: 'p7' } })
    .info({ n: 2 }, 'from a grandchild');
  await flush();
  const text = JSON.stringify(lines);
  for (const secret of ['t4', 'p5', 'x6', 'p7']) assert.ok(!text.includes(secret), `${secret} reached the log`);
  // pino's error serializer still sees the error as what it is.
  const logged = lines[0]!.err as Record<string, unknown>;
  assert.equal(logged.type, 'AuthError');
  assert.match(String(logged.message), /^could not connect/);
  assert.match(String(logged.stack), /could not connect[\s\S]*caused by: Error: refused/);
  assert.equal(logged.token, '***');
  assert.equal(err.token, 't4', 'the error itself is left as it was');
  assert.deepEqual(lines[0]!.conn, { host: 'db', password: '***' });
  assert.equal(lines[0]!.at, new Date(0).toISOString());
  assert.deepEqual(lines[1]!.target, { name: 'pg', adminSecret: '***' });
  assert.deepEqual([lines[2]!.a, lines[2]!.conn, lines[2]!.n], [1, { password: '***' }, 2]);
});

test('a field that cannot be read or shown is written as a placeholder, and logging never throws', async () => {
  const { log, lines } = capture();
  const throwingToJSON = {
    toJSON: () => {
      throw new Error('no');
    },
  };
  const throwingGetter = {
    get secret(): string {
      throw new Error('no');
    },
  };
  const trap = new Proxy(
    {},
    {
      getOwnPropertyDescriptor: () => {
        throw new Error('no');
      },
      ownKeys: () => {
        throw new Error('no');
      },
    },
  );
  log.info({ a: throwingToJSON, b: throwingGetter, c: trap, ok: 1 }, 'odd');
  assert.doesNotThrow(() => log.child({ a: throwingToJSON }).info('from a child'));
  await flush();
  assert.deepEqual([lines[0]!.a, lines[0]!.b, lines[0]!.c, lines[0]!.ok], ['[unserializable]', '[unserializable]', '[unserializable]', 1]);
  assert.equal(lines[1]!.a, '[unserializable]');
});
