// Single sign-on against a real OpenID Provider (oidc-provider on loopback):
// the browser's authorization code flow with PKCE, the CLI's device flow,
// sign-out, sessions that end, a person the provider drops losing access at
// the next re-check, step-up, and callbacks that must be refused.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestTarget, FakeClock, type TestBroker, type TestTarget } from '../testing/broker.js';
import { HttpAgent, type AgentResponse } from '../testing/http-agent.js';
import type { TestOidcProvider } from '../testing/servers/oidc.js';
import { startSsoBroker, type SsoBroker } from '../testing/sso-broker.js';

const last = (hops: AgentResponse[]) => hops[hops.length - 1]!;

describe('single sign-on with a real OpenID Provider', () => {
  let target: TestTarget;
  let idp: TestOidcProvider;
  let broker: TestBroker;
  let base: string;
  let sso: SsoBroker;
  const clock = new FakeClock();

  before(async () => {
    target = await createTestTarget();
    sso = await startSsoBroker({ target, clock });
    ({ broker, idp, base } = sso);
  });
  after(async () => {
    await sso?.close();
    await target?.drop();
  });

  /** Signs `who` in through the browser flow; returns the agent holding the broker's session cookie and every hop. */
  async function browserSignIn(who: string, password: string, agent = new HttpAgent(), query = ''): Promise<{ agent: HttpAgent; hops: AgentResponse[] }> {
    const start = await agent.follow(`${base}/v1/sso/login${query}`);
    const form = last(start);
    if (!form.url.startsWith(idp.issuer)) return { agent, hops: start };
    const hops = await agent.submit(form, { login: who, password });
    return { agent, hops: [...start, ...hops] };
  }
  const sessionOf = async (agent: HttpAgent) => JSON.parse((await agent.request(`${base}/v1/session`)).body);

  it("the browser signs in with the authorization code flow and PKCE; the session carries the provider's name and groups", async () => {
    const { agent, hops } = await browserSignIn('olivia', 'olivia-pw');
    const auth = new URL(hops.find((h) => h.status === 302 && h.url.startsWith(`${base}/v1/sso/login`))!.headers.get('location')!);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce'));
    const session = await sessionOf(agent);
    assert.equal(session.user, 'olivia');
    assert.equal(session.method, 'oidc');
    assert.deepEqual(session.groups.sort(), ['dev', 'staff']);
    assert.deepEqual(session.methods, ['sso', 'token']);
    // The cookie is the broker's own, never a provider token.
    const cookie = agent.cookies(new URL(base).host).get('stint_session')!;
    assert.match(cookie, /^stints_[A-Za-z0-9_-]{43}$/);
    // The page it lands on is the web UI.
    assert.equal(last(hops).url, `${base}/`);
    // And it works for the API: olivia requests an auto-approved profile as a member of dev.
    const r = await agent.request(`${base}/v1/requests`, { json: { profile: 'pg-read', duration: '10m' }, headers: { 'x-stint-csrf': '1' } });
    assert.equal(r.status, 201, r.body);
    const grant = JSON.parse(r.body).grant;
    assert.equal(grant.status, 'active');
  });

  it('refuses a replayed callback, a callback from another browser, and a provider error, signing nobody in', async () => {
    const agent = new HttpAgent();
    const start = await agent.follow(`${base}/v1/sso/login`);
    const hops = await agent.submit(last(start), { login: 'olivia', password: 'olivia-pw' });
    const callback = hops.find((h) => h.url.startsWith(`${base}/v1/sso/callback`))!;
    assert.equal(callback.status, 200);
    // The same callback again (state used up; the code too).
    const stateCookie = new URL(callback.url).searchParams.get('state')!;
    const replayAgent = new HttpAgent();
    replayAgent.cookies(new URL(base).host).set('stint_sso_state', stateCookie);
    const replay = await replayAgent.request(callback.url);
    assert.equal(replay.status, 400, replay.body);
    assert.match(JSON.parse(replay.body).error.message, /already been used or has expired/);
    assert.equal(replayAgent.cookies(new URL(base).host).get('stint_session'), undefined);
    // Another browser (no state cookie) bringing a fresh callback: login CSRF.
    const victim = new HttpAgent();
    const s2 = await victim.follow(`${base}/v1/sso/login`);
    const attackerHops = await new HttpAgent().submit(last(s2), { login: 'olivia', password: 'olivia-pw' }).catch(() => [] as AgentResponse[]);
    // The attacker's agent has no IdP session cookie for this interaction, so the provider refuses it; fall back to a forged query.
    const forged = await new HttpAgent().request(`${base}/v1/sso/callback?code=abc&state=${new URL(last(s2).url).pathname.split('/').pop()}`);
    assert.equal(forged.status, 400);
    assert.ok(attackerHops.every((h) => !h.url.startsWith(`${base}/v1/sso/callback`) || h.status !== 200));
    // The provider saying no.
    const denied = await new HttpAgent().request(`${base}/v1/sso/callback?error=access_denied&state=x`);
    assert.equal(denied.status, 401);
  });

  it('refuses people outside allowedGroups', async () => {
    const { agent, hops } = await browserSignIn('mallory', 'mallory-pw');
    const cb = hops.find((h) => h.url.startsWith(`${base}/v1/sso/callback`))!;
    assert.equal(cb.status, 403, cb.body);
    assert.match(JSON.parse(cb.body).error.message, /not in a group allowed to sign in/);
    assert.equal((await agent.request(`${base}/v1/session`)).status, 401);
  });

  it("the CLI signs in with the device flow: a Stint sign-in secret, not the provider's tokens; logout ends it on the server", async () => {
    const start = await fetch(`${base}/v1/sso/device`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(start.status, 201);
    const d = (await start.json()) as { handle: string; userCode: string; verificationUriComplete: string; interval: number };
    const poll = async () =>
      (
        await fetch(`${base}/v1/sso/device/poll`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ handle: d.handle }),
        })
      ).json() as Promise<Record<string, any>>;
    assert.equal((await poll()).status, 'authorization_pending');
    // The person opens the URL, confirms the code and signs in at the provider.
    const person = new HttpAgent();
    // The provider's pages: a form that posts the code (a script submits it in a browser), the confirmation, the login.
    const posting = last(await person.follow(d.verificationUriComplete));
    const confirm = last(await person.submit(posting));
    assert.match(confirm.body, new RegExp(d.userCode));
    const login = last(await person.submit(confirm));
    const done = last(await person.submit(login, { login: 'pat', password: 'pat-pw' }));
    assert.equal(done.status, 200, done.body);
    let r = await poll();
    for (let i = 0; i < 100 && (r.status === 'slow_down' || r.status === 'authorization_pending'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      r = await poll();
    }
    assert.equal(r.status, 'done', JSON.stringify(r));
    assert.match(r.secret, /^stints_/);
    assert.equal(r.user, 'pat');
    const me = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${r.secret}` } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { user: string }).user, 'pat');
    // A second poll with the same handle gets nothing.
    assert.equal((await poll()).error?.code, 'invalid');
    const out = await fetch(`${base}/v1/session`, { method: 'DELETE', headers: { authorization: `Bearer ${r.secret}` } });
    assert.equal(out.status, 200);
    assert.equal((await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${r.secret}` } })).status, 401);
  });

  it('step-up: approving under a policy with stepUp needs a sign-in from the last 10 minutes; a fresh sign-in with max_age then succeeds', async () => {
    const { agent: olivia } = await browserSignIn('olivia', 'olivia-pw');
    const made = await olivia.request(`${base}/v1/requests`, {
      json: { profile: 'pg-dba', duration: '10m', reason: 'hotfix' },
      headers: { 'x-stint-csrf': '1' },
    });
    assert.equal(made.status, 201, made.body);
    const requestId = JSON.parse(made.body).request.id as string;
    const { agent: pat } = await browserSignIn('pat', 'pat-pw');
    clock.advance(11 * 60_000);
    const approve = () => pat.request(`${base}/v1/requests/${requestId}/approve`, { json: { comment: 'ok' }, headers: { 'x-stint-csrf': '1' } });
    const stale = await approve();
    assert.equal(stale.status, 401, stale.body);
    assert.equal(JSON.parse(stale.body).error.code, 'step_up_required');
    // The UI sends the person back to the provider with max_age; the provider makes them sign in again.
    const before = idp.logins();
    const { hops } = await browserSignIn('pat', 'pat-pw', pat, `?maxAge=0&returnTo=${encodeURIComponent('/approvals')}`);
    assert.equal(idp.logins(), before + 1, 'the provider asked for the password again');
    assert.equal(last(hops).url, `${base}/approvals`);
    // The provider's auth_time is real time; bring the broker's clock back to it (only the fake clock ran ahead).
    clock.advance(-11 * 60_000);
    const fresh = await approve();
    assert.equal(fresh.status, 200, fresh.body);
    const body = JSON.parse(fresh.body);
    assert.equal(body.request.status, 'approved');
    // The grant works on the real PostgreSQL target: olivia's own account now holds the profile's role.
    assert.ok((await target.memberOf(target.own.name)).includes(target.adminRole));
  });

  it('a sign-in ends at sessionTtl', async () => {
    const { agent } = await browserSignIn('olivia', 'olivia-pw');
    assert.equal((await agent.request(`${base}/v1/me`)).status, 200);
    clock.advance(2 * 3_600_000 + 1000);
    assert.equal((await agent.request(`${base}/v1/me`)).status, 401);
  });

  it('a person removed from allowedGroups at the provider is signed out at the next re-check, and their pending requests are cancelled', async () => {
    const { agent } = await browserSignIn('olivia', 'olivia-pw');
    const pending = await agent.request(`${base}/v1/requests`, { json: { profile: 'pg-dba', duration: '10m', reason: 'x' }, headers: { 'x-stint-csrf': '1' } });
    assert.equal(pending.status, 201, pending.body);
    const requestId = JSON.parse(pending.body).request.id as string;
    assert.equal((await agent.request(`${base}/v1/me`)).status, 200);
    idp.people.get('olivia')!.groups = ['dev'];
    clock.advance(15 * 60_000);
    await broker.app.signInRecheck.runOnce();
    assert.equal((await agent.request(`${base}/v1/me`)).status, 401);
    const audit = await broker.app.store.listAudit({ action: 'signin.ended', subjectUser: 'olivia' });
    assert.ok(
      audit.some((e) => String(e.details.reason).includes('not in a group allowed')),
      JSON.stringify(audit.map((e) => e.details)),
    );
    assert.equal((await broker.app.store.getRequest(requestId))?.status, 'cancelled');
    idp.people.get('olivia')!.groups = ['staff', 'dev'];
  });

  it('a person deleted at the provider is signed out at the next re-check (their refresh token is refused)', async () => {
    const { agent } = await browserSignIn('pat', 'pat-pw');
    assert.equal((await agent.request(`${base}/v1/me`)).status, 200);
    const pat = idp.people.get('pat')!;
    idp.people.delete('pat');
    try {
      clock.advance(15 * 60_000);
      await broker.app.signInRecheck.runOnce();
      assert.equal((await agent.request(`${base}/v1/me`)).status, 401);
      assert.equal((await broker.app.store.listLiveSignIns('pat')).filter((s) => s.method === 'oidc').length, 0);
    } finally {
      idp.people.set('pat', pat);
    }
  });
});
