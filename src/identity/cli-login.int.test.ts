// stint login's loopback sign-in (RFC 8252) and the CLI's step-up, with the
// real binary, a real OpenID Provider and a browser-like client following the
// provider's pages: the provider sends the browser back to the broker, which
// sends it on to the CLI's listener on 127.0.0.1 with a one-time code that
// only the CLI's PKCE verifier redeems.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestTarget, FakeClock, type TestTarget } from '../testing/broker.js';
import { HttpAgent } from '../testing/http-agent.js';
import { startSsoBroker, type SsoBroker } from '../testing/sso-broker.js';

const bin = fileURLToPath(new URL('../../bin/stint.js', import.meta.url));

interface Running {
  url: Promise<string>;
  exited: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Runs the CLI; `url` resolves with the first provider URL it prints on stderr. */
function cli(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let gotUrl: (u: string) => void = () => {};
  const url = new Promise<string>((resolve) => (gotUrl = resolve));
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    const m = /open this in your browser on this machine:\s+(\S+)/.exec(stderr);
    if (m) gotUrl(m[1]!);
  });
  const exited = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
  return { url, exited };
}

describe('stint login with a loopback redirect, and step-up from the CLI', () => {
  let target: TestTarget;
  let sso: SsoBroker;
  let home: string;
  const clock = new FakeClock();
  const env = () => ({ PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), NO_COLOR: '1', STINT_SERVER: sso.base });

  before(async () => {
    target = await createTestTarget();
    sso = await startSsoBroker({ target, clock });
    home = await mkdtemp(join(tmpdir(), 'stint-cli-home-'));
  });
  after(async () => {
    await sso?.close();
    await target?.drop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** The person signs in at the provider in their browser; the browser lands on the CLI's listener. */
  async function finishInBrowser(url: string, who: string, password: string): Promise<string> {
    const browser = new HttpAgent();
    const form = (await browser.follow(url)).at(-1)!;
    const hops = await browser.submit(form, { login: who, password });
    const landing = hops.at(-1)!;
    assert.match(landing.url, /^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
    assert.match(landing.body, /Signed in to Stint/);
    return landing.url;
  }

  it('signs in through a loopback redirect, and the code is good once and only with the verifier', async () => {
    const run = cli(['login', '--browser'], env());
    const landing = await finishInBrowser(await run.url, 'olivia', 'olivia-pw');
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /signed in as\s+olivia/);
    // The code went to the CLI, which used it: a second use (by anyone) fails.
    const code = new URL(landing).searchParams.get('code')!;
    const reuse = await fetch(`${sso.base}/v1/sso/loopback/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code, verifier: 'x'.repeat(43) }),
    });
    assert.equal(reuse.status, 400);
    const who = cli(['whoami', '--json'], env());
    const w = await who.exited;
    assert.equal(w.code, 0, w.stderr);
    assert.equal(JSON.parse(w.stdout).user, 'olivia');
  });

  it('refuses a redirect off this machine, and a code without the right verifier', async () => {
    const challenge = 'A'.repeat(43);
    for (const redirect of [
      'http://evil.example:8080/cb',
      'https://127.0.0.1:9/cb',
      'http://127.0.0.1/cb',
      'http://user:pw@127.0.0.1:9/cb',
      'http://127.0.0.1:9/cb?x=1',
    ]) {
      const r = await fetch(`${sso.base}/v1/sso/loopback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect, codeChallenge: challenge }),
      });
      assert.equal(r.status, 400, redirect);
      assert.match(((await r.json()) as { error: { message: string } }).error.message, /^redirect: must be http:\/\/127\.0\.0\.1:PORT/);
    }
    // A real start whose code is brought with another verifier (a listener of the test's stands in for the CLI's).
    const listener = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const redirect = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/callback`;
    const start = await fetch(`${sso.base}/v1/sso/loopback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect, codeChallenge: challenge }),
    });
    assert.equal(start.status, 201);
    const browser = new HttpAgent();
    const form = (await browser.follow(((await start.json()) as { url: string }).url)).at(-1)!;
    const hops = await browser.submit(form, { login: 'olivia', password: 'olivia-pw' });
    listener.close();
    const code = new URL(hops.at(-1)!.url).searchParams.get('code')!;
    assert.ok(hops.at(-1)!.url.startsWith(`${redirect}?code=`));
    const wrong = await fetch(`${sso.base}/v1/sso/loopback/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code, verifier: 'b'.repeat(43) }),
    });
    assert.equal(wrong.status, 400);
    assert.match(((await wrong.json()) as { error: { message: string } }).error.message, /verifier: does not match/);
  });

  it('an approval that needs step-up makes the CLI sign in again at the provider and retry', async () => {
    // olivia asks through the API; pat approves from the CLI.
    const olivia = new HttpAgent();
    const f = (await olivia.follow(`${sso.base}/v1/sso/login`)).at(-1)!;
    await olivia.submit(f, { login: 'olivia', password: 'olivia-pw' });
    const made = await olivia.request(`${sso.base}/v1/requests`, {
      json: { profile: 'pg-dba', duration: '10m', reason: 'INC-9' },
      headers: { 'x-stint-csrf': '1' },
    });
    assert.equal(made.status, 201, made.body);
    const requestId = JSON.parse(made.body).request.id as string;

    const login = cli(['login', '--browser'], env());
    await finishInBrowser(await login.url, 'pat', 'pat-pw');
    assert.equal((await login.exited).code, 0);
    clock.advance(11 * 60_000);
    const approve = cli(['approve', requestId, '--comment', 'ok'], env());
    const url = await approve.url;
    assert.match(new URL(url).searchParams.get('prompt') ?? '', /login/);
    assert.equal(new URL(url).searchParams.get('max_age'), '0');
    // The provider's auth_time is real time: bring the broker's fake clock back beside it.
    clock.advance(-11 * 60_000);
    await finishInBrowser(url, 'pat', 'pat-pw');
    const r = await approve.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /needs a fresh sign-in/);
    assert.equal((await sso.broker.app.store.getRequest(requestId))?.status, 'approved');
  });
});
