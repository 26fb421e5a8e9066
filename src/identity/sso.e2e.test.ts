// Single sign-on in real Chromium (Debian's, driven by playwright-core)
// against a real broker, a real OpenID Provider and a real PostgreSQL
// target: olivia signs in with SSO and asks for pg-dba; pat signs in with
// SSO, and approving needs a sign-in from the last 10 minutes, so the UI
// sends pat back to the provider (which asks for the password again) and
// then sends the approval; the grant works on PostgreSQL.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { type BrowserContext, type Page } from 'playwright-core';
import { runBinary } from '../cli/testing/fake-api.js';
import { createTestTarget, FakeClock, type TestTarget } from '../testing/broker.js';
import { startSsoBroker, type SsoBroker } from '../testing/sso-broker.js';
import { chromiumPath, launchChromium, uiWait } from '../testing/browser.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const artifacts = join(root, 'test-artifacts', 'ui');

describe('single sign-on in Chromium', () => {
  let target: TestTarget;
  let sso: SsoBroker;
  const clock = new FakeClock();
  const contexts: BrowserContext[] = [];
  const dirs: string[] = [];

  async function browser(name: string): Promise<Page> {
    const dir = await mkdtemp(join(tmpdir(), `stint-chromium-${name}-`));
    dirs.push(dir);
    const ctx = await launchChromium(dir, { viewport: { width: 1280, height: 860 } });
    contexts.push(ctx);
    return ctx.pages()[0] ?? (await ctx.newPage());
  }

  /** At the provider's login page: type the password as a person would. */
  async function providerLogin(page: Page, user: string, password: string) {
    await page.getByLabel('User name').waitFor({ timeout: uiWait });
    assert.ok(page.url().startsWith(sso.idp.issuer), `at the provider, not ${page.url()}`);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function signIn(page: Page, user: string, password: string) {
    await page.goto(sso.base);
    await page.getByTestId('sso').click();
    await providerLogin(page, user, password);
    await page.getByTestId('whoami').getByText(user).waitFor({ timeout: uiWait });
  }

  before(async () => {
    if (!existsSync(chromiumPath)) throw new Error('needs Debian chromium at /usr/bin/chromium (scripts/test.sh installs it)');
    if (!existsSync(join(root, 'web', 'dist', 'index.html'))) execFileSync('npm', ['run', 'build:web'], { cwd: root, stdio: 'inherit' });
    await mkdir(artifacts, { recursive: true });
    target = await createTestTarget();
    sso = await startSsoBroker({ target, clock });
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await sso?.close();
    await target?.drop();
  });

  it('sign in with SSO, ask, approve with step-up at the provider, and the grant works on PostgreSQL', async () => {
    const olivia = await browser('olivia');
    await olivia.goto(sso.base);
    await olivia.getByTestId('sso').waitFor({ timeout: uiWait });
    await olivia.screenshot({ path: join(artifacts, 'sso-01-sign-in.png') });
    await olivia.getByTestId('sso').click();
    await providerLogin(olivia, 'olivia', 'olivia-pw');
    await olivia.getByTestId('whoami').getByText('olivia').waitFor({ timeout: uiWait });
    // Only the broker's own HttpOnly cookie: no provider token in the browser's storage.
    assert.equal(await olivia.evaluate<string>('JSON.stringify({ ...localStorage })'), '{}');
    // (Cookies are per host, not per port: the provider's own share 127.0.0.1; the state cookie is gone.)
    const cookies = (await contexts[0]!.cookies(sso.base)).filter((c) => c.name.startsWith('stint_'));
    assert.deepEqual(
      cookies.map((c) => [c.name, c.httpOnly, c.sameSite]),
      [['stint_session', true, 'Strict']],
    );

    await olivia
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: /^Request access/ })
      .click();
    await olivia
      .getByRole('button', { name: /pg-dba\b/ })
      .first()
      .click();
    await olivia.getByLabel('Duration').fill('10m');
    await olivia.getByLabel(/^Reason/).fill('INC-7: fix the orders index');
    await olivia.getByRole('button', { name: 'Ask for approval' }).click();
    await olivia.getByRole('list', { name: 'Pending requests' }).getByText('pg-dba').waitFor({ timeout: uiWait });

    const pat = await browser('pat');
    await signIn(pat, 'pat', 'pat-pw');
    // Time passes: pat's sign-in is older than the policy's stepUp (10m).
    clock.advance(11 * 60_000);
    await pat
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: /^Approvals/ })
      .click();
    const card = pat.locator('li.approval', { hasText: 'olivia' });
    await card.waitFor({ timeout: uiWait });
    await card.getByLabel(/^Comment/).fill('ok');
    const loginsBefore = sso.idp.logins();
    await card.getByRole('button', { name: 'Approve' }).click();
    // Sent back to the provider, which asks for the password again (prompt=login, max_age=0).
    await pat.getByLabel('User name').waitFor({ timeout: uiWait });
    // The provider's auth_time is real time: bring the broker's fake clock back beside it.
    clock.advance(-11 * 60_000);
    await pat.screenshot({ path: join(artifacts, 'sso-02-step-up-at-provider.png') });
    await providerLogin(pat, 'pat', 'pat-pw');
    assert.equal(sso.idp.logins(), loginsBefore + 1);
    // Back on the approvals page, the approval is sent once more and succeeds.
    await pat.getByText('Signed in again; done.').waitFor({ timeout: uiWait });
    await pat.screenshot({ path: join(artifacts, 'sso-03-approved-after-step-up.png') });
    const requests = await sso.broker.app.store.listRequests({ user: 'olivia' });
    assert.equal(requests[0]?.status, 'approved');

    // The grant is real: olivia's own account can now read the secret table.
    const login = await target.login(target.own.name, target.own.password, 'SELECT count(*)::int AS n FROM public.secrets');
    assert.deepEqual(login, { ok: true, rows: [{ n: 1 }] });
    await olivia.getByRole('list', { name: 'Active grants' }).locator('li', { hasText: 'pg-dba' }).waitFor({ timeout: uiWait });
  });

  it('stint login: the device flow, finished in the browser at the provider; whoami uses it; logout ends it on the server', async () => {
    const home = await mkdtemp(join(tmpdir(), 'stint-cli-home-'));
    dirs.push(home);
    const env = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), NO_COLOR: '1' };
    const child = spawn(process.execPath, [join(root, 'bin', 'stint.js'), 'login', '--server', sso.base], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const m = /open\s+(\S+)\s+and confirm the code (\S+)\./.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.once('close', () => reject(new Error(`stint login ended early: ${stderr}`)));
    });
    assert.ok(url.startsWith(sso.idp.issuer), url);

    // The person opens the URL: the provider shows the code, they confirm it and sign in.
    const page = await browser('device');
    await page.goto(url);
    await page.getByRole('button', { name: 'Continue' }).click({ timeout: uiWait });
    await providerLogin(page, 'pat', 'pat-pw');
    await page
      .getByText(/Sign-in Success|successfully|You can close/i)
      .first()
      .waitFor({ timeout: uiWait });
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /signed in as\s+pat/);

    const file = join(home, 'config', 'stint', 'session.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(home, 'config', 'stint'))).mode & 0o777, 0o700);
    const stored = JSON.parse(await readFile(file, 'utf8')) as { secret: string; server: string };
    // A Stint sign-in, not the provider's tokens (no JWT, no refresh token in the file).
    assert.match(stored.secret, /^stints_/);
    assert.doesNotMatch(await readFile(file, 'utf8'), /eyJ|refresh/i);

    const who = await runBinary(['whoami'], env);
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, /user\s+pat/);
    assert.match(who.stdout, /groups\s+.*dba.*staff|groups\s+.*staff.*dba/);

    const out = await runBinary(['logout'], env);
    assert.equal(out.code, 0, out.stderr);
    await assert.rejects(stat(file));
    // The sign-in is gone on the server too: the old secret no longer works anywhere.
    const again = await fetch(`${sso.base}/v1/me`, { headers: { authorization: `Bearer ${stored.secret}` } });
    assert.equal(again.status, 401);
    const after = await runBinary(['whoami', '--server', sso.base], env);
    assert.equal(after.code, 3);
  });
});
