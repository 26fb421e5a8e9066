// Failed API authentication through the real broker: each is counted in
// /metrics, logged (rate-limited, never the token), and a source that keeps
// failing gets 429 with Retry-After while other sources are unaffected.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { defaultAuthFailureOptions } from './auth-failures.js';

const burst = defaultAuthFailureOptions.burst;

describe('failed authentication', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let clock: FakeClock;
  let alice: string;

  before(async () => {
    target = await createTestTarget();
    clock = new FakeClock();
    broker = await startTestBroker({ target, clock });
    alice = await broker.token('alice');
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  const from = (remoteAddress: string, headers: Record<string, string>, url = '/v1/grants', method: 'GET' | 'POST' = 'GET', payload?: unknown) =>
    broker.app.api.inject({
      method,
      url,
      remoteAddress,
      headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) },
      payload: payload ? JSON.stringify(payload) : undefined,
    });
  const metric = async (reason: string) => {
    const text = (await broker.app.api.inject({ method: 'GET', url: '/metrics' })).body;
    const m = new RegExp(`^stint_auth_failures_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };

  it('a source that keeps failing gets 429 with Retry-After, even with a good token; other sources do not', async () => {
    const bad = 'stint_' + 'A'.repeat(43);
    const before = await metric('invalid');
    for (let i = 0; i < burst; i++) {
      const r = await from('203.0.113.7', { authorization: `Bearer ${bad}` });
      assert.equal(r.statusCode, 401, r.body);
    }
    const limited = await from('203.0.113.7', { authorization: `Bearer ${bad}` });
    assert.equal(limited.statusCode, 429, limited.body);
    assert.equal(JSON.parse(limited.body).error.code, 'rate_limited');
    assert.match(JSON.parse(limited.body).error.message, /too many failed sign-ins from your address; try again in \d+ s/);
    assert.equal(limited.headers['retry-after'], '3');
    assert.equal((await from('203.0.113.7', { authorization: `Bearer ${alice}` })).statusCode, 429, 'the source is throttled as a whole');
    // X-Forwarded-For is not trusted: the throttle keys on the connection's address.
    assert.equal((await from('203.0.113.7', { authorization: `Bearer ${alice}`, 'x-forwarded-for': '198.51.100.1' })).statusCode, 429);
    // Another source, the real user, is not held back.
    assert.equal((await from('198.51.100.1', { authorization: `Bearer ${alice}` })).statusCode, 200);
    assert.equal(await metric('invalid'), before + burst);
    assert.ok((await metric('throttled')) >= 3);

    // Cooling down: one more attempt per 3 s.
    clock.advance(defaultAuthFailureOptions.refillMs);
    assert.equal((await from('203.0.113.7', { authorization: `Bearer ${alice}` })).statusCode, 200);

    const lines = broker.logs.filter((l) => l.includes('203.0.113.7'));
    assert.equal(lines.filter((l) => l.includes('"authentication failed"')).length, 1, 'one line a minute per source');
    assert.equal(lines.filter((l) => l.includes('"authentication throttled for this source"')).length, 1);
    assert.match(lines[0]!, /"reason":"invalid"/);
    assert.match(lines[0]!, /"where":"GET \/v1\/grants"/);
    assert.equal(
      broker.logs.some((l) => l.includes('AAAAAAAAAA')),
      false,
      'never the token',
    );
    clock.advance(60_000);
    await from('203.0.113.7', { authorization: `Bearer ${bad}` });
    const again = broker.logs.filter((l) => l.includes('203.0.113.7') && l.includes('"authentication failed"'));
    assert.equal(again.length, 2);
    assert.match(again[1]!, new RegExp(`"suppressed":${burst - 1}`));
  });

  it('every way to fail counts with its reason: missing, malformed, session ended, browser sign-in', async () => {
    clock.advance(120_000);
    const m0 = await metric('missing'),
      b0 = await metric('malformed'),
      s0 = await metric('session-ended'),
      i0 = await metric('invalid');
    assert.equal((await from('192.0.2.10', {})).statusCode, 401);
    assert.equal((await from('192.0.2.10', { authorization: 'Basic YWxpY2U6eA==' })).statusCode, 401);
    assert.equal((await from('192.0.2.10', { cookie: 'stint_session=forged' })).statusCode, 401);
    const signIn = await from('192.0.2.10', { 'x-stint-csrf': '1' }, '/v1/session', 'POST', { token: 'stint_nope' });
    assert.equal(signIn.statusCode, 401);
    assert.deepEqual(
      [(await metric('missing')) - m0, (await metric('malformed')) - b0, (await metric('session-ended')) - s0, (await metric('invalid')) - i0],
      [1, 1, 1, 1],
    );
    assert.equal(
      broker.logs.some((l) => l.includes('stint_nope')),
      false,
    );
    // Browser sign-in is throttled like the API.
    for (let i = 0; i < burst; i++) await from('192.0.2.11', { 'x-stint-csrf': '1' }, '/v1/session', 'POST', { token: 'stint_nope' });
    const r = await from('192.0.2.11', { 'x-stint-csrf': '1' }, '/v1/session', 'POST', { token: alice });
    assert.equal(r.statusCode, 429);
    assert.ok(r.headers['retry-after']);
  });

  it('IPv6 addresses count by their /64: a fresh address per attempt does not escape the throttle', async () => {
    clock.advance(120_000);
    for (let i = 1; i <= burst; i++) assert.equal((await from(`2001:db8:5:5::${i.toString(16)}`, { authorization: 'Bearer stint_wrong' })).statusCode, 401);
    assert.equal((await from('2001:db8:5:5:ffff::9', { authorization: `Bearer ${alice}` })).statusCode, 429);
    assert.equal((await from('2001:db8:5:6::1', { authorization: `Bearer ${alice}` })).statusCode, 200, 'the next /64 is another source');
  });

  it('a real socket: the peer address is the source, whatever X-Forwarded-For says', async () => {
    clock.advance(120_000);
    const url = await broker.app.listen('127.0.0.1', 0);
    const statuses: number[] = [];
    for (let i = 0; i <= burst; i++) {
      const res = await fetch(`${url}/v1/me`, { headers: { authorization: 'Bearer stint_wrong', 'x-forwarded-for': `10.0.${i}.1` } });
      statuses.push(res.status);
      await res.text();
    }
    assert.deepEqual(statuses, [...Array(burst).fill(401), 429]);
    const line = broker.logs.find((l) => l.includes('"authentication failed"') && l.includes('127.0.0.1'));
    assert.ok(line, 'logged with the peer address');
    assert.equal(line!.includes('10.0.'), false);
  });
});
