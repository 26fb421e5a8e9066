// Browser sessions as attacks: the cookie's flags, CSRF without the custom
// header or from another origin, logout, a stolen cookie after logout, a
// revoked token ending its sessions, and the raw token never in the cookie.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { maxSignInsPerUser as maxSessionsPerUser } from '../core/identity/signin-service.js';

describe('cookie sessions for the web UI', () => {
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

  const csrf = { 'x-stint-csrf': '1' };
  async function signIn(user: string): Promise<{ cookie: string; setCookie: string; token: string }> {
    const token = await broker.token(user);
    const r = await broker.call(null, 'POST', '/v1/session', { token }, csrf);
    assert.equal(r.status, 201, r.raw);
    const res = await broker.app.api.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { 'content-type': 'application/json', ...csrf },
      payload: JSON.stringify({ token }),
    });
    const setCookie = String(res.headers['set-cookie']);
    const cookie = setCookie.split(';')[0]!;
    return { cookie, setCookie, token };
  }

  it('sets an HttpOnly, SameSite=Strict, Path=/ cookie with an opaque id, never the token', async () => {
    const { setCookie, cookie, token } = await signIn('alice');
    assert.match(setCookie, /^stint_session=stints_[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    assert.ok(!setCookie.includes(token));
    assert.ok(!cookie.includes(token.slice(6, 20)));
    const me = await broker.call(null, 'GET', '/v1/me', undefined, { cookie });
    assert.equal(me.status, 200);
    assert.equal(me.body.user, 'alice');
    const s = await broker.call(null, 'GET', '/v1/session', undefined, { cookie });
    assert.deepEqual({ user: s.body.user, admin: s.body.admin, methods: s.body.methods }, { user: 'alice', admin: false, methods: ['token'] });
  });

  it('adds Secure behind TLS', async () => {
    const res = await broker.app.api.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https', ...csrf },
      payload: JSON.stringify({ token: await broker.token('alice') }),
    });
    assert.match(String(res.headers['set-cookie']), /; Secure$/);
  });

  it('refuses a bad token, and sign-in without the CSRF header', async () => {
    const bad = await broker.call(null, 'POST', '/v1/session', { token: 'stint_' + 'x'.repeat(43) }, csrf);
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error.code, 'unauthenticated');
    const noHeader = await broker.call(null, 'POST', '/v1/session', { token: await broker.token('alice') });
    assert.equal(noHeader.status, 403);
  });

  it('CSRF: a cookie-authenticated state change without X-Stint-CSRF, or from another origin, is refused and changes nothing', async () => {
    const { cookie } = await signIn('alice');
    const before = (await broker.app.store.listRequests({})).length;
    const forged = await broker.call(null, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' }, { cookie });
    assert.equal(forged.status, 403);
    assert.match(forged.body.error.message, /X-Stint-CSRF/);
    const crossOrigin = await broker.call(
      null,
      'POST',
      '/v1/requests',
      { profile: 'pg-read', duration: '5m' },
      { cookie, ...csrf, origin: 'https://evil.example', host: 'stint.example' },
    );
    assert.equal(crossOrigin.status, 403);
    assert.match(crossOrigin.body.error.message, /cross-origin/);
    assert.equal((await broker.app.store.listRequests({})).length, before);
    // Reads need no header; the same origin with the header works.
    assert.equal((await broker.call(null, 'GET', '/v1/requests', undefined, { cookie })).status, 200);
    const ok = await broker.call(
      null,
      'POST',
      '/v1/requests',
      { profile: 'pg-read', duration: '5m' },
      { cookie, ...csrf, origin: 'http://stint.example', host: 'stint.example' },
    );
    assert.equal(ok.status, 201, ok.raw);
    await broker.call(null, 'POST', `/v1/grants/${ok.body.grant.id}/revoke`, undefined, { cookie, ...csrf });
  });

  it('bearer tokens are unaffected by the CSRF rule', async () => {
    const r = await broker.call(await broker.token('dave'), 'GET', '/v1/me');
    assert.equal(r.status, 200);
    const p = await broker.call(await broker.token('dave'), 'POST', '/v1/requests/req_aaaaaaaaaaaa/cancel');
    assert.equal(p.status, 404);
  });

  it('logout forgets the session: the stolen cookie value no longer works, even with the header', async () => {
    const { cookie } = await signIn('bob');
    const out = await broker.app.api.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie, ...csrf } });
    assert.equal(out.statusCode, 200);
    assert.match(String(out.headers['set-cookie']), /^stint_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    for (const [method, url] of [
      ['GET', '/v1/me'],
      ['GET', '/v1/requests?scope=approvable'],
      ['POST', '/v1/requests/req_aaaaaaaaaaaa/approve'],
    ] as const) {
      const r = await broker.call(null, method, url, method === 'POST' ? {} : undefined, { cookie, ...csrf });
      assert.equal(r.status, 401, `${method} ${url}`);
    }
    // alice's session is not bob's, and a made-up id is nothing.
    const alice = await signIn('alice');
    assert.equal((await broker.call(null, 'GET', '/v1/me', undefined, { cookie: alice.cookie })).body.user, 'alice');
    assert.equal((await broker.call(null, 'GET', '/v1/me', undefined, { cookie: 'stint_session=' + 'A'.repeat(43) })).status, 401);
  });

  it('logout without the CSRF header is refused (a page elsewhere cannot sign you out)', async () => {
    const { cookie } = await signIn('carol');
    const r = await broker.call(null, 'DELETE', '/v1/session', undefined, { cookie });
    assert.equal(r.status, 403);
    assert.equal((await broker.call(null, 'GET', '/v1/me', undefined, { cookie })).status, 200);
  });

  it('revoking the token ends the sessions opened with it', async () => {
    const token = (await broker.call(broker.adminToken, 'POST', '/v1/tokens', { user: 'dave' })).body;
    const r = await broker.app.api.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { 'content-type': 'application/json', ...csrf },
      payload: JSON.stringify({ token: token.secret }),
    });
    const cookie = String(r.headers['set-cookie']).split(';')[0]!;
    assert.equal((await broker.call(null, 'GET', '/v1/me', undefined, { cookie })).status, 200);
    assert.equal((await broker.call(broker.adminToken, 'DELETE', `/v1/tokens/${token.token.id}`)).status, 200);
    assert.equal((await broker.call(null, 'GET', '/v1/me', undefined, { cookie })).status, 401);
  });

  it('the events stream needs a session or a token', async () => {
    const r = await broker.call(null, 'GET', '/v1/events');
    assert.equal(r.status, 401);
  });

  it(`one user keeps at most ${maxSessionsPerUser} browser sessions: signing in again ends that user's oldest, nobody else's`, async () => {
    const bob = await signIn('bob');
    const token = await broker.token('carol');
    const cookies: string[] = [];
    for (let i = 0; i < maxSessionsPerUser + 2; i++) {
      const res = await broker.app.api.inject({
        method: 'POST',
        url: '/v1/session',
        headers: { 'content-type': 'application/json', ...csrf },
        payload: JSON.stringify({ token }),
      });
      assert.equal(res.statusCode, 201, res.body);
      cookies.push(String(res.headers['set-cookie']).split(';')[0]!);
    }
    const status = async (cookie: string) => (await broker.call(null, 'GET', '/v1/session', undefined, { cookie })).status;
    assert.deepEqual(
      await Promise.all(cookies.map(status)),
      cookies.map((_, i) => (i < 2 ? 401 : 200)),
    );
    assert.equal(await status(bob.cookie), 200, "another user's session is untouched");
  });
});
