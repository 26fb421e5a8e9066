// The HTTP edge under attack and misuse: every bad input gets a precise 4xx
// in the one error shape, and nothing changes in the store or on the target.
// Secrets (a canary admin password and issued passwords) never leak.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { idleTimeoutMs, requestTimeoutMs } from './server.js';

const canary = 'CANARY-adm1n-p4ss-7f3e9c';

describe('API edge', () => {
  let target: TestTarget;
  let broker: TestBroker;
  const responses: string[] = [];

  before(async () => {
    target = await createTestTarget({ canary });
    broker = await startTestBroker({ target });
    const call = broker.call;
    broker.call = async (...args) => {
      const r = await call(...args);
      responses.push(r.raw);
      return r;
    };
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  async function snapshot() {
    const store = broker.app.store;
    const managed = await broker.app.connectors.get('pg').listManaged();
    return {
      grants: (await store.listGrants({})).length,
      requests: (await store.listRequests({})).length,
      audit: (await store.auditHead())?.seq ?? 0,
      managed: managed.accounts.length,
    };
  }

  const badRequests: [string, unknown, RegExp][] = [
    ['unknown field', { profile: 'pg-read', duration: '5m', admin: true }, /unknown field "admin"|Unrecognized key/],
    ['missing duration', { profile: 'pg-read' }, /duration/],
    ['zero duration', { profile: 'pg-read', duration: '0s' }, /greater than zero/],
    ['negative duration', { profile: 'pg-read', duration: '-5m' }, /is not a duration/],
    ['absurd duration', { profile: 'pg-read', duration: '999999d' }, /longer than the largest allowed/],
    ['garbage duration', { profile: 'pg-read', duration: '1 hour' }, /is not a duration/],
    ['number duration', { profile: 'pg-read', duration: 300 }, /expected string/],
    ['quote in profile', { profile: 'pg"; DROP ROLE x; --', duration: '5m' }, /profile: must start with a letter/],
    ['NUL in profile', { profile: 'pg\u0000read', duration: '5m' }, /profile/],
    ['200-char unicode profile', { profile: 'é'.repeat(200), duration: '5m' }, /at most 63/],
    ['NUL in reason', { profile: 'pg-read', duration: '5m', reason: 'a\u0000b' }, /NUL/],
    ['huge reason', { profile: 'pg-read', duration: '5m', reason: 'x'.repeat(5000) }, /at most 1000/],
    ['lone surrogate in reason', { profile: 'pg-read', duration: '5m', reason: 'a\ud800b' }, /reason: must be well-formed Unicode/],
    ['NUL in ticket', { profile: 'pg-read', duration: '5m', ticket: 'OPS-1\u0000' }, /ticket: must not contain NUL/],
    ['huge ticket', { profile: 'pg-read', duration: '5m', ticket: 'x'.repeat(201) }, /ticket: must be at most 200 characters/],
    ['array body', [1, 2], /expected object/],
  ];

  for (const [name, body, message] of badRequests) {
    it(`POST /v1/requests with ${name} → 400, nothing changed`, async () => {
      const alice = await broker.token('alice');
      const before = await snapshot();
      const r = await broker.call(alice, 'POST', '/v1/requests', body);
      assert.equal(r.status, 400, r.raw);
      assert.equal(r.body.error.code, 'invalid');
      assert.match(r.body.error.message, message);
      assert.match(r.body.error.requestId, /^r-[0-9a-f]{12}$/);
      assert.deepEqual(await snapshot(), before);
    });
  }

  it('unknown profile → 404 naming it', async () => {
    const r = await broker.call(await broker.token('alice'), 'POST', '/v1/requests', { profile: 'nope', duration: '5m' });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.message, 'profile "nope" does not exist');
  });

  it('malformed JSON → 400; wrong content type → 415', async () => {
    const alice = await broker.token('alice');
    const r = await broker.call(alice, 'POST', '/v1/requests', '{"profile": "pg-read",', { 'content-type': 'application/json' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /not valid JSON/);
    const t = await broker.call(alice, 'POST', '/v1/requests', 'profile=pg-read', { 'content-type': 'text/plain' });
    assert.equal(t.status, 415);
    assert.equal(t.body.error.code, 'invalid');
  });

  it('a 10 MB body → 413 without being processed', async () => {
    const before = await snapshot();
    const r = await broker.call(await broker.token('alice'), 'POST', '/v1/requests', {
      profile: 'pg-read',
      duration: '5m',
      reason: 'x'.repeat(10 * 1024 * 1024),
    });
    assert.equal(r.status, 413);
    assert.match(r.body.error.message, /larger than the limit/);
    assert.deepEqual(await snapshot(), before);
  });

  it("tokens: missing, malformed, unknown, revoked → 401; another user's resources → 403/404", async () => {
    assert.equal((await broker.call(null, 'GET', '/v1/grants')).status, 401);
    assert.equal((await broker.call(null, 'GET', '/v1/grants', undefined, { authorization: 'Basic abc' })).status, 401);
    assert.equal((await broker.call('stint_' + 'A'.repeat(43), 'GET', '/v1/grants')).status, 401);
    assert.equal((await broker.call('x"; DROP TABLE tokens; --', 'GET', '/v1/grants')).status, 401);
    const created = await broker.call(broker.adminToken, 'POST', '/v1/tokens', { user: 'dave', description: 'temp' });
    assert.equal(created.status, 201);
    const daveToken = created.body.secret;
    assert.equal((await broker.call(daveToken, 'GET', '/v1/me')).body.user, 'dave');
    const del = await broker.call(broker.adminToken, 'DELETE', `/v1/tokens/${created.body.token.id}`);
    assert.equal(del.status, 200);
    assert.equal((await broker.call(daveToken, 'GET', '/v1/me')).status, 401);

    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' })).body.grant;
    assert.equal((await broker.call(bob, 'GET', `/v1/grants/${g.id}`)).status, 404, "another user's grant is not there for bob");
    assert.equal((await broker.call(bob, 'POST', `/v1/grants/${g.id}/revoke`)).status, 404);
    assert.equal((await broker.call(bob, 'POST', '/v1/tokens', { user: 'alice' })).status, 403, 'a person makes tokens only for themselves');
    assert.equal((await broker.call(broker.adminToken, 'POST', '/v1/tokens', { user: 'mallory' })).status, 404);
    const nul = await broker.call(broker.adminToken, 'POST', '/v1/tokens', { user: 'dave', description: 'a\u0000' });
    assert.equal(nul.status, 400, nul.raw);
    assert.match(nul.body.error.message, /description: must not contain NUL/);
    await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
  });

  it('malformed ids → 400; unknown ids → 404; unknown routes → 404 in the error shape', async () => {
    const alice = await broker.token('alice');
    const bad = await broker.call(alice, 'GET', `/v1/grants/${encodeURIComponent("gr_x'; --")}`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /not a grant id/);
    assert.equal((await broker.call(alice, 'GET', '/v1/grants/gr_aaaaaaaaaaaa')).status, 404);
    assert.equal((await broker.call(alice, 'POST', '/v1/requests/req_aaaaaaaaaaaa/approve', {})).status, 404);
    const route = await broker.call(alice, 'GET', '/v1/nothing');
    assert.equal(route.status, 404);
    assert.equal(route.body.error.code, 'not_found');
    const q = await broker.call(alice, 'GET', '/v1/grants?bogus=1');
    assert.equal(q.status, 400);
  });

  it('serves an OpenAPI document generated from the route schemas', async () => {
    const r = await broker.call(null, 'GET', '/v1/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const post = r.body.paths['/v1/requests'].post;
    assert.deepEqual(post.requestBody.content['application/json'].schema.required, ['profile', 'duration']);
    for (const p of ['/v1/requests/{id}/approve', '/v1/grants/{id}/credentials', '/v1/grants/{id}/extend', '/v1/audit/verify', '/v1/tokens', '/v1/profiles']) {
      assert.ok(r.body.paths[p], `documents ${p}`);
    }
    assert.equal(r.body.paths['/v1/grants/{id}'].get.parameters[0].in, 'path');
  });

  it('healthz and metrics', async () => {
    const h = await broker.call(null, 'GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok');
    const m = await broker.app.api.inject({ method: 'GET', url: '/metrics' });
    assert.match(m.body, /# TYPE stint_grants gauge/);
    assert.match(m.body, /stint_grants_activated_total/);
  });

  it('profiles lists what the caller may request and how', async () => {
    const r = await broker.call(await broker.token('alice'), 'GET', '/v1/profiles');
    const read = r.body.profiles.find((p: any) => p.name === 'pg-read');
    assert.equal(read.approval, 'auto');
    const dba = r.body.profiles.find((p: any) => p.name === 'pg-dba');
    assert.equal(dba.approval, '1 approval');
    assert.equal(dba.requireReason, true);
    assert.equal(dba.critical, false, 'the test target is not critical: policies approve its profiles automatically');
    const eve = await broker.call(await broker.token('eve'), 'GET', '/v1/profiles');
    assert.deepEqual(eve.body.profiles, [], 'deny policies hide everything from eve');
  });

  it('no secret in a log line, an audit event, an error or any response but the credential handover', async () => {
    const alice = await broker.token('alice');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' })).body.grant;
    const creds = await broker.call(alice, 'GET', `/v1/grants/${g.id}/credentials`);
    const issued = creds.body.credentials.password as string;
    assert.ok(issued.length >= 40);
    responses.pop(); // the one response that hands the credential to its owner
    // Make provisioning fail on the target and look at the error that comes back.
    await target.superQuery(`ALTER ROLE "${target.adminUser}" NOCREATEROLE`);
    const fail = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' });
    assert.ok(fail.status >= 400, fail.raw);
    assert.match(fail.body.error.message, /nothing was left on the target/);
    const rolledBack = (await broker.app.store.listGrants({})).filter((x) => x.revokeReason === 'provisioning-failed');
    assert.equal(rolledBack.length, 1);
    assert.equal(rolledBack[0]!.status, 'revoked', 'the rollback finished before the answer');
    assert.equal(await target.roleExists(rolledBack[0]!.account), false);
    await target.superQuery(`ALTER ROLE "${target.adminUser}" CREATEROLE`);
    await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
    const audit = (await broker.call(broker.adminToken, 'GET', '/v1/audit?limit=5000')).raw;
    for (const [name, text] of [
      ['logs', broker.logs.join('\n')],
      ['audit', audit],
      ['responses', responses.join('\n')],
    ] as const) {
      assert.ok(!text.includes(canary), `admin password in ${name}`);
      assert.ok(!text.includes(issued), `issued password in ${name}`);
    }
    assert.ok(broker.logs.length > 0 && audit.length > 0);
    // The admin credential is sealed at rest, not stored in clear.
    const sealed = await broker.app.store.getTargetCredential('pg');
    assert.ok(sealed && !sealed.includes(canary) && sealed.startsWith('v1.'));
  });

  describe("what never reaches a route: bad URLs and what Node's HTTP parser refuses get the one error shape", () => {
    let port: number;
    before(async () => {
      await broker.app.api.listen({ host: '127.0.0.1', port: 0 });
      port = (broker.app.api.server.address() as AddressInfo).port;
    });

    /** Sends raw bytes, reads until the server closes or answers in full. */
    function raw(request: string): Promise<{ status: number; body: any }> {
      return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let text = '';
        sock.on('data', (d) => (text += d.toString()));
        sock.on('error', reject);
        sock.on('close', () => {
          const [head = '', body = ''] = text.split('\r\n\r\n');
          resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), body: JSON.parse(body) });
        });
        sock.end(request);
      });
    }
    const shape = (r: { body: any }, message: RegExp) => {
      assert.equal(r.body.error.code, 'invalid');
      assert.match(r.body.error.message, message);
      assert.match(r.body.error.requestId, /^r-[0-9a-f]{12}$/);
    };

    it('a URL that is not valid percent-encoding → 400', async () => {
      for (const url of ['/v1/requests/%E0%A4%A', '/foo%', '/%FF']) {
        const r = await raw(`GET ${url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.equal(r.status, 400, url);
        shape(r, /the request URL is not valid/);
      }
    });

    it('headers over the limit → 431; a NUL in a header or a bad Content-Length → 400', async () => {
      const big = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.equal(big.status, 431);
      shape(big, /headers are too large/);
      for (const bad of [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n`, `POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n`]) {
        const r = await raw(bad);
        assert.equal(r.status, 400);
        shape(r, /not valid HTTP/);
      }
    });

    it('requests and idle connections have time limits (a client dripping its body cannot hold a connection)', () => {
      assert.equal(broker.app.api.server.requestTimeout, requestTimeoutMs);
      assert.equal(broker.app.api.server.timeout, idleTimeoutMs);
    });
  });
});
