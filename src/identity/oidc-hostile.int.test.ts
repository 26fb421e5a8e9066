// Hostile answers from the identity provider, with the real provider
// (oidc-provider on loopback) in the flow: the test rewrites the ID token in
// the token endpoint's answer on its way to the broker (tampered, expired,
// wrong iss/aud/nonce, an unknown kid, alg none, HMAC with the client secret).
// Each is refused at the callback with a message naming the failed check, and
// nothing is half-signed-in: no session cookie, GET /v1/session 401, no new
// live sign-in in the store, no signin.created in the audit. Then key
// rotation: a key the provider published ahead signs at once; a key it never
// published before is fetched from its jwks_uri (the library looks again on
// an unknown kid once its copy of the key set is a minute old).
//
// The broker throttles failed sign-ins per source (20, refilled by its own
// clock, which only the re-check cases move): the refusals here stay under it.
//
// The forged tokens are signed here with node:crypto: they are the attack,
// not a check; the broker checks them only through openid-client.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createTestTarget, FakeClock, type TestBroker, type TestTarget } from '../testing/broker.js';
import { HttpAgent, type AgentResponse } from '../testing/http-agent.js';
import { startSsoBroker, type SsoBroker } from '../testing/sso-broker.js';
import { newSigningKey, type IdTokenTransform, type TestOidcProvider, type TestSigningKey } from '../testing/servers/oidc.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

interface Jwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}
function decode(jwt: string): Jwt {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')), payload: JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) };
}
/** A compact JWS, RS256 with `key` (what a provider, or an attacker with a key of their own, sends). */
function signRs256(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64({ ...header, alg: 'RS256' })}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}
const nowS = () => Math.floor(Date.now() / 1000);

describe('hostile answers from the identity provider are refused, and nothing is half-signed-in', () => {
  let target: TestTarget;
  let idp: TestOidcProvider;
  let broker: TestBroker;
  let base: string;
  let sso: SsoBroker;
  // The broker's clock, moved only to make a re-check with the provider due; the ID token's times are checked against real time.
  const clock = new FakeClock();
  // The provider starts with two keys: A signs, B is published ahead of its turn.
  const keyA = newSigningKey('key-a');
  const keyB = newSigningKey('key-b');

  before(async () => {
    target = await createTestTarget();
    sso = await startSsoBroker({ target, clock, keys: [keyA, keyB] });
    ({ broker, idp, base } = sso);
  });
  after(async () => {
    await sso?.close();
    await target?.drop();
  });

  /** One browser sign-in as olivia; the callback's answer and the agent that made it. */
  async function signIn(): Promise<{ agent: HttpAgent; callback: AgentResponse }> {
    const agent = new HttpAgent();
    const start = await agent.follow(`${base}/v1/sso/login`);
    const form = start[start.length - 1]!;
    assert.ok(form.url.startsWith(idp.issuer), `the provider's login page: ${form.url} ${form.body.slice(0, 200)}`);
    const hops = await agent.submit(form, { login: 'olivia', password: 'olivia-pw' });
    const callback = hops.find((h) => h.url.startsWith(`${base}/v1/sso/callback`));
    assert.ok(callback, `the provider sent the browser back: ${hops.map((h) => `${h.status} ${h.url}`).join(' -> ')}`);
    return { agent, callback };
  }

  const signInsNow = async (who = 'olivia') => ({
    live: (await broker.app.store.listLiveSignIns(who)).length,
    created: (await broker.app.store.listAudit({ action: 'signin.created', subjectUser: who })).length,
  });
  /** An ID token the provider did not sign: the same claims under a key of the attacker's own. */
  const attackerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const foreignKey: IdTokenTransform = (token) => {
    const { header, payload } = decode(token);
    return signRs256({ ...header, kid: 'attacker-key' }, payload, attackerKey);
  };

  /** A sign-in that must succeed: a cookie, a session, one more live sign-in and its audit record. */
  async function assertSignsIn(): Promise<void> {
    const before = await signInsNow();
    const { agent, callback } = await signIn();
    assert.equal(callback.status, 200, callback.body);
    assert.match(agent.cookies(new URL(base).host).get('stint_session') ?? '', /^stints_/);
    const session = await agent.request(`${base}/v1/session`);
    assert.equal(session.status, 200, session.body);
    assert.equal(JSON.parse(session.body).user, 'olivia');
    const after = await signInsNow();
    assert.equal(after.live, Math.min(before.live + 1, 10));
    assert.equal(after.created, before.created + 1);
  }

  /** Signs in with the provider's ID token rewritten by `forge`; the callback must refuse it, naming `check`. */
  async function assertRefused(forge: IdTokenTransform, check: RegExp): Promise<void> {
    const before = await signInsNow();
    const forged: string[] = [];
    idp.transformIdToken = async (token, answer) => {
      const out = await forge(token, answer);
      forged.push(out);
      return out;
    };
    let result;
    try {
      result = await signIn();
    } finally {
      idp.transformIdToken = undefined;
    }
    const { agent, callback } = result;
    assert.equal(forged.length, 1, 'the token endpoint answered once, through the forgery');
    assert.equal(callback.status, 401, callback.body);
    const error = JSON.parse(callback.body).error as { code: string; message: string };
    assert.equal(error.code, 'unauthenticated');
    assert.match(error.message, /^sign-in failed: the identity provider's answer failed a check: /);
    assert.match(error.message, check);
    // The refusal does not echo the token.
    for (const part of forged[0]!.split('.').filter((p) => p.length > 16))
      assert.ok(!callback.body.includes(part), `the error repeats the token: ${callback.body}`);
    // Nothing half-signed-in.
    assert.equal(agent.cookies(new URL(base).host).get('stint_session'), undefined);
    assert.equal(agent.cookies(new URL(base).host).get('stint_sso_state'), undefined, 'the state cookie is spent');
    const session = await agent.request(`${base}/v1/session`);
    assert.equal(session.status, 401, session.body);
    assert.deepEqual(await signInsNow(), before);
  }

  it("control: the provider's token re-signed unchanged with its own key signs in (so each refusal below is its one change)", async () => {
    idp.transformIdToken = (token) => {
      const { header, payload } = decode(token);
      return signRs256(header, payload, keyA.privateKey);
    };
    try {
      await assertSignsIn();
    } finally {
      idp.transformIdToken = undefined;
    }
  });

  it("a tampered ID token: claims changed under the provider's signature (another person, more groups), or a signature byte flipped", async () => {
    await assertRefused((token) => {
      const [h, , s] = token.split('.');
      const { payload } = decode(token);
      return `${h}.${b64({ ...payload, sub: 'root', preferred_username: 'root', groups: ['staff', 'platform'] })}.${s}`;
    }, /signature verification failed/);
    // The same person with one more group (ID token claims win over userinfo's: this would be a role).
    await assertRefused((token) => {
      const [h, , s] = token.split('.');
      const { payload } = decode(token);
      return `${h}.${b64({ ...payload, groups: ['staff', 'dev', 'platform'] })}.${s}`;
    }, /signature verification failed/);
    await assertRefused((token) => {
      const [h, p, s] = token.split('.') as [string, string, string];
      // One character of the payload segment (a letter inside a claim value: still valid JSON).
      const json = Buffer.from(p, 'base64url').toString('utf8').replace('"olivia"', '"olivib"');
      return `${h}.${Buffer.from(json).toString('base64url')}.${s}`;
    }, /signature verification failed/);
    await assertRefused((token) => {
      const [h, p, s] = token.split('.') as [string, string, string];
      const i = Math.floor(s.length / 2);
      return `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    }, /signature verification failed/);
  });

  it("an expired ID token (exp two minutes past, beyond the 30 s clock tolerance), signed by the provider's key", async () => {
    await assertRefused((token) => {
      const { header, payload } = decode(token);
      return signRs256(header, { ...payload, iat: nowS() - 600, exp: nowS() - 120 }, keyA.privateKey);
    }, /"exp" \(expiration time\)/);
  });

  it("an ID token from another issuer, or for another client (aud), signed by the provider's key", async () => {
    await assertRefused((token) => {
      const { header, payload } = decode(token);
      return signRs256(header, { ...payload, iss: 'http://127.0.0.1:9/evil' }, keyA.privateKey);
    }, /"iss" \(issuer\)/);
    await assertRefused((token) => {
      const { header, payload } = decode(token);
      return signRs256(header, { ...payload, aud: 'another-client' }, keyA.privateKey);
    }, /"aud" \(audience\)/);
    // Issued to several audiences, ours among them, but for another party (azp).
    await assertRefused((token) => {
      const { header, payload } = decode(token);
      return signRs256(header, { ...payload, aud: ['another-client', idp.clientId], azp: 'another-client' }, keyA.privateKey);
    }, /"azp" \(authorized party\)/);
  });

  it("an ID token with another sign-in's nonce, signed by the provider's key", async () => {
    await assertRefused((token) => {
      const { header, payload } = decode(token);
      return signRs256(header, { ...payload, nonce: 'a-nonce-from-another-sign-in' }, keyA.privateKey);
    }, /"nonce"/);
  });

  it("an ID token signed by a key the provider does not publish: an unknown kid, or the provider's own kid", async () => {
    const { privateKey: attacker } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await assertRefused((token) => {
      const { header, payload } = decode(token);
      return signRs256({ ...header, kid: 'attacker-key' }, payload, attacker);
    }, /no applicable keys found/);
    await assertRefused((token) => {
      const { header, payload } = decode(token);
      return signRs256({ ...header, kid: keyA.kid }, payload, attacker);
    }, /signature verification failed/);
  });

  it('an unsigned ID token (alg none), and one signed with HMAC using the client secret as the key', async () => {
    await assertRefused((token) => {
      const { payload } = decode(token);
      return `${b64({ alg: 'none' })}.${b64(payload)}.`;
    }, /"alg"/);
    await assertRefused((token) => {
      const { header, payload } = decode(token);
      const input = `${b64({ ...header, alg: 'HS256' })}.${b64(payload)}`;
      return `${input}.${createHmac('sha256', idp.clientSecret).update(input).digest('base64url')}`;
    }, /"alg"/);
  });

  it("the CLI's device flow: a forged ID token when the sign-in completes is refused at the poll, and no sign-in is made", async () => {
    const before = await signInsNow('pat');
    const post = async (url: string, body: unknown) => {
      const r = await fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    };
    const started = await post('/v1/sso/device', {});
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const d = started.body as { handle: string; verificationUriComplete: string };
    // pat confirms the code and signs in at the provider (its pages as in oidc-signin.int.test.ts).
    const person = new HttpAgent();
    const lastOf = (hops: AgentResponse[]) => hops[hops.length - 1]!;
    const confirm = lastOf(await person.submit(lastOf(await person.follow(d.verificationUriComplete))));
    const login = lastOf(await person.submit(confirm));
    const done = lastOf(await person.submit(login, { login: 'pat', password: 'pat-pw' }));
    assert.equal(done.status, 200, done.body);
    const forged: string[] = [];
    idp.transformIdToken = (token) => {
      const out = foreignKey(token, {}) as string;
      forged.push(out);
      return out;
    };
    let r;
    try {
      r = await post('/v1/sso/device/poll', { handle: d.handle });
      for (let i = 0; i < 100 && r.status === 200 && (r.body.status === 'slow_down' || r.body.status === 'authorization_pending'); i++) {
        await sleep(100);
        r = await post('/v1/sso/device/poll', { handle: d.handle });
      }
    } finally {
      idp.transformIdToken = undefined;
    }
    assert.equal(forged.length, 1);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.match(r.body.error.message, /the identity provider's answer failed a check: .*no applicable keys found/);
    assert.equal(r.body.secret, undefined);
    // Polling again gets nothing either: the provider has spent its device code.
    const again = await post('/v1/sso/device/poll', { handle: d.handle });
    assert.notEqual(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(await signInsNow('pat'), before);
  });

  it('a forged ID token at the re-check with the provider ends the sign-in rather than trusting it', async () => {
    const { agent, callback } = await signIn();
    assert.equal(callback.status, 200, callback.body);
    assert.equal((await agent.request(`${base}/v1/me`)).status, 200);
    clock.advance(15 * 60_000);
    idp.transformIdToken = foreignKey;
    try {
      await broker.app.signInRecheck.runOnce();
    } finally {
      idp.transformIdToken = undefined;
      clock.advance(-15 * 60_000);
    }
    assert.equal((await agent.request(`${base}/v1/me`)).status, 401);
    const ended = await broker.app.store.listAudit({ action: 'signin.ended', subjectUser: 'olivia' });
    assert.ok(
      ended.some((e) => /failed a check: .*no applicable keys found/.test(String(e.details.reason))),
      JSON.stringify(ended.map((e) => e.details)),
    );
  });

  it('a provider that is down (503 page from a proxy, or its own 500 server_error, at its token or userinfo endpoint) is an outage: a re-check keeps the sign-in, a callback answers 503', async () => {
    const cases = [
      { endpoint: 'token', status: 503, body: 'html' },
      { endpoint: 'token', status: 500, body: 'json' },
      { endpoint: 'userinfo', status: 503, body: 'html' },
      { endpoint: 'userinfo', status: 500, body: 'json' },
    ] as const;
    for (const down of cases) {
      const { agent, callback } = await signIn();
      assert.equal(callback.status, 200, callback.body);
      const logged = broker.logs.length;
      clock.advance(15 * 60_000);
      idp.endpointDown = down;
      try {
        await broker.app.signInRecheck.runOnce();
        assert.equal((await agent.request(`${base}/v1/me`)).status, 200, `still signed in (${JSON.stringify(down)})`);
        assert.ok(
          broker.logs.slice(logged).some((l) => l.includes('identity provider unreachable while re-checking a sign-in')),
          broker.logs.slice(logged).join(''),
        );
        const before = await signInsNow();
        const refused = await signIn();
        assert.equal(refused.callback.status, 503, `${JSON.stringify(down)}: ${refused.callback.body}`);
        assert.match(JSON.parse(refused.callback.body).error.message, new RegExp(`identity provider cannot be reached: it answered HTTP ${down.status}`));
        assert.equal(refused.agent.cookies(new URL(base).host).get('stint_session'), undefined);
        assert.deepEqual(await signInsNow(), before);
      } finally {
        idp.endpointDown = undefined;
        clock.advance(-15 * 60_000);
      }
    }
  });

  it("key rotation: a key published ahead signs at once; a key never published before is fetched from the provider's jwks_uri", async () => {
    // The broker holds the provider's key set from the sign-ins above (A and B).
    await assertSignsIn();
    const fetched = idp.jwksFetches();
    assert.ok(fetched.count >= 1);
    // The provider moves to B, which it published ahead: no new fetch is needed.
    idp.setKeys([keyB, keyA]);
    await assertSignsIn();
    assert.equal(idp.jwksFetches().count, fetched.count, 'B was in the key set the broker already had');
    // Then to C, a key it never published, and A and B withdrawn.
    const keyC: TestSigningKey = newSigningKey('key-c');
    idp.setKeys([keyC]);
    // The library looks for an unknown kid again only when its copy of the key set is 60 s old (an
    // attacker's random kids cannot make it fetch on every request); wait that out, then sign in.
    const wait = idp.jwksFetches().lastAt + 62_000 - Date.now();
    if (wait > 0) await sleep(wait);
    await assertSignsIn();
    assert.ok(idp.jwksFetches().count > fetched.count, 'the broker fetched the new key set from the provider');
    // A token signed by a withdrawn key is refused now.
    await assertRefused((token) => {
      const { header, payload } = decode(token);
      return signRs256({ ...header, kid: keyA.kid }, payload, keyA.privateKey);
    }, /no applicable keys found/);
    // The other side of the minute: the provider's own token under a key it starts using without
    // publishing it first is refused while the broker's copy is younger than a minute (the copy
    // was fetched moments ago; on a machine so slow that it is not, there is nothing to show).
    idp.setKeys([newSigningKey('key-d')]);
    if (Date.now() - idp.jwksFetches().lastAt < 45_000) await assertRefused((token) => token, /no applicable keys found/);
  });
});
