// Lenient input the outside probe found, as attacks through the real app:
// a repeated JSON key, invalid UTF-8 and a hex query number are each a 400
// naming the field, and change nothing.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';

describe('strict input at the API edge', () => {
  let target: TestTarget;
  let broker: TestBroker;

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  async function snapshot() {
    const store = broker.app.store;
    return {
      grants: (await store.listGrants({})).length,
      requests: (await store.listRequests({})).length,
      tokens: (await broker.call(broker.adminToken, 'GET', '/v1/tokens')).body.tokens.length,
      audit: (await store.auditHead())?.seq ?? 0,
    };
  }

  const raw = (token: string, method: 'POST' | 'GET', url: string, payload?: Buffer | string) =>
    broker.app.api.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
      payload,
    });

  it('{"user":"alice","user":"carol"} makes no token for anyone: 400 naming user', async () => {
    const before = await snapshot();
    for (const body of ['{"user":"alice","user":"carol"}', '{"user":"alice","us\\u0065r":"carol"}', '{"user":"alice","description":"a","description":"b"}']) {
      const r = await raw(broker.adminToken, 'POST', '/v1/tokens', body);
      assert.equal(r.statusCode, 400, r.body);
      const e = JSON.parse(r.body).error;
      assert.equal(e.code, 'invalid');
      assert.match(e.message, /^body (user|description): the field is given more than once$/);
    }
    assert.deepEqual(await snapshot(), before);
    const alice = await broker.token('alice');
    const nested = await raw(alice, 'POST', '/v1/reconcile', '{"dryRun":true,"dryRun":false}');
    assert.equal(nested.statusCode, 400);
    assert.match(JSON.parse(nested.body).error.message, /body dryRun: the field is given more than once/);
  });

  it('invalid UTF-8 in a body is 400 naming the field, not stored as U+FFFD', async () => {
    const alice = await broker.token('alice');
    const before = await snapshot();
    const body = Buffer.concat([Buffer.from('{"profile":"pg-dba","duration":"5m","reason":"fix '), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const r = await raw(alice, 'POST', '/v1/requests', body);
    assert.equal(r.statusCode, 400, r.body);
    assert.match(JSON.parse(r.body).error.message, /^body reason: not valid UTF-8 \(byte \d+\)$/);
    const inTicket = Buffer.concat([Buffer.from('{"profile":"pg-dba","duration":"5m","reason":"ok","ticket":"OPS-'), Buffer.from([0xff]), Buffer.from('"}')]);
    assert.match(JSON.parse((await raw(alice, 'POST', '/v1/requests', inTicket)).body).error.message, /^body ticket: not valid UTF-8/);
    assert.deepEqual(await snapshot(), before);
    // The same text well encoded is accepted.
    const ok = await raw(alice, 'POST', '/v1/requests', Buffer.from('{"profile":"pg-dba","duration":"5m","reason":"fix é"}'));
    assert.equal(ok.statusCode, 201, ok.body);
    assert.equal(JSON.parse(ok.body).request.reason, 'fix é');
  });

  it('query numbers are plain decimal digits: limit=0x10 and friends are 400 naming the field', async () => {
    const alice = await broker.token('alice');
    const cases: [string, string][] = [];
    for (const bad of ['0x10', '1e1', '+5', '-1', ' 5', '5 ', '1.0', '', '0b11', '0o7', 'Infinity', '１０', '5,6', '99999999999999999']) {
      for (const [url, field] of [
        ['/v1/grants?limit=', 'limit'],
        ['/v1/requests?limit=', 'limit'],
        ['/v1/audit?limit=', 'limit'],
        ['/v1/audit?afterSeq=', 'afterSeq'],
        ['/v1/sessions?limit=', 'limit'],
      ] as const) {
        cases.push([`${url}${encodeURIComponent(bad)}`, field]);
      }
    }
    for (const [url, field] of cases) {
      const r = await raw(alice, 'GET', url);
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.match(JSON.parse(r.body).error.message, new RegExp(`^query ${field}: `), url);
    }
    assert.equal((await raw(alice, 'GET', '/v1/grants?limit=16')).statusCode, 200);
    assert.equal((await raw(alice, 'GET', '/v1/audit?afterSeq=0&limit=10')).statusCode, 200);
    const repeated = await raw(alice, 'GET', '/v1/grants?limit=1&limit=2');
    assert.equal(repeated.statusCode, 400);
    assert.match(JSON.parse(repeated.body).error.message, /query limit/);
    assert.match(JSON.parse((await raw(alice, 'GET', '/v1/grants?limit=0')).body).error.message, /query limit: must be at least 1/);
  });
});
