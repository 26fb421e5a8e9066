// The web UI end to end, in real Chromium (Debian's, driven by
// playwright-core) against a real broker over real HTTP and a real
// PostgreSQL target. alice and bob each have their own browser (fresh
// profile directory). Screenshots of every main page land in
// test-artifacts/ui/ (git-ignored).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Page } from 'playwright-core';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { chromiumPath, launchChromium, uiWait, until } from '../testing/browser.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const artifacts = join(root, 'test-artifacts', 'ui');

describe('web UI in Chromium', { skip: existsSync(chromiumPath) ? false : 'needs Debian chromium at /usr/bin/chromium' }, () => {
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;
  const contexts: BrowserContext[] = [];
  const dirs: string[] = [];
  const cspViolations: string[] = [];

  async function browser(name: string, viewport = { width: 1280, height: 860 }): Promise<Page> {
    // Each person gets their own Chromium with a fresh profile directory.
    const dir = await mkdtemp(join(tmpdir(), `stint-chromium-${name}-`));
    dirs.push(dir);
    const ctx = await launchChromium(dir, { viewport: viewport });
    contexts.push(ctx);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) cspViolations.push(`${name}: ${m.text()}`);
    });
    return page;
  }

  const shot = (page: Page, file: string) => page.screenshot({ path: join(artifacts, file), fullPage: true });
  const nav = (page: Page, name: RegExp) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();

  async function signIn(page: Page, user: string) {
    await page.goto(url);
    const token = page.getByLabel('Stint token');
    await token.waitFor();
    // Keyboard only: the token field has focus; Enter submits.
    await page.keyboard.type(await broker.token(user));
    await page.keyboard.press('Enter');
    await page.getByTestId('whoami').getByText(user).waitFor({ timeout: uiWait });
  }

  before(async () => {
    if (!existsSync(join(root, 'web', 'dist', 'index.html'))) execFileSync('npm', ['run', 'build:web'], { cwd: root, stdio: 'inherit' });
    await mkdir(artifacts, { recursive: true });
    target = await createTestTarget();
    broker = await startTestBroker({
      target,
      // A temporary-account profile that needs a dba's approval, so the credential has a password.
      editConfig: (text) =>
        text.replace(
          'profiles:\n',
          `profiles:\n  - { name: pg-ro-reviewed, target: pg, mode: ephemeral-account, grants: [${target.readRole}], maxDuration: 1h, description: "Read-only access to the app database, reviewed by a DBA" }\n`,
        ),
      config: {
        extraPolicies: `  - name: reviewed-read
    subjects: { groups: [dev] }
    profiles: [pg-ro-reviewed]
    requireReason: true
    approval: { approvers: { groups: [dba] }, count: 1 }
`,
      },
    });
    url = await broker.app.listen('127.0.0.1', 0);
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await broker?.close();
    await target?.drop();
  });

  let alice: Page;
  let bob: Page;

  it('alice requests, bob approves in his browser, alice sees it live, uses the credential, checks in', async () => {
    alice = await browser('alice');
    await alice.goto(url);
    await alice.getByLabel('Stint token').waitFor();
    await shot(alice, '01-sign-in.png');
    await signIn(alice, 'alice');

    // The session lives in an HttpOnly cookie; nothing in web storage.
    const cookies = await contexts[0]!.cookies(url);
    const session = cookies.find((c) => c.name === 'stint_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    const storage = await alice.evaluate<string>('JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } })');
    assert.equal(storage, '{"local":{},"session":{}}');
    assert.equal(await alice.evaluate<string>('document.cookie'), '', 'the cookie is not readable by scripts');
    await alice.getByText('No active access').waitFor();
    await shot(alice, '02-my-access-empty.png');

    await nav(alice, /^Request access/);
    await alice.getByRole('button', { name: /pg-ro-reviewed/ }).click();
    await alice.getByLabel('Duration').fill('2h');
    await alice.getByRole('button', { name: 'Ask for approval' }).click();
    await alice.getByText('At most 1h for this profile.').waitFor();
    await alice.getByText('A reason is required for this profile.').waitFor();
    await alice.getByLabel('Duration').fill('30m');
    await alice.getByLabel(/^Reason/).fill('INC-42: check the orders index');
    await alice.getByLabel(/^Ticket/).fill('INC-42');
    await shot(alice, '03-request-form.png');
    await alice.getByRole('button', { name: 'Ask for approval' }).click();
    const pending = alice.getByRole('list', { name: 'Pending requests' }).getByText('pg-ro-reviewed');
    await pending.waitFor({ timeout: uiWait });
    await shot(alice, '04-my-access-pending.png');

    bob = await browser('bob');
    await signIn(bob, 'bob');
    await nav(bob, /^Approvals/);
    const card = bob.locator('li.approval', { hasText: 'alice' });
    await card.waitFor({ timeout: uiWait });
    assert.match(await card.innerText(), /pg-ro-reviewed[\s\S]*30m[\s\S]*INC-42: check the orders index/);
    await shot(bob, '05-approvals-inbox.png');
    await card.getByLabel(/^Comment/).fill('ok, read-only');
    await card.getByRole('button', { name: 'Approve' }).click();
    await bob.getByText('Inbox zero').waitFor({ timeout: uiWait });
    await shot(bob, '06-approvals-empty.png');

    // alice's page updates without a reload (server-sent events).
    const grant = alice.getByRole('list', { name: 'Active grants' }).locator('li', { hasText: 'pg-ro-reviewed' });
    await grant.getByTestId('countdown').waitFor({ timeout: uiWait });
    assert.match(await grant.getByTestId('countdown').innerText(), /^(30:00|29:\d\d)$/);
    await grant.getByRole('button', { name: 'Show credential' }).click();
    const username = await grant.getByTestId('cred-username').innerText();
    const password = await grant.getByTestId('cred-password').innerText();
    assert.match(
      await grant.innerText(),
      new RegExp(`stint connect gr_[a-z0-9]{12}[\\s\\S]*psql "host=${target.host} port=${target.port} dbname=${target.db.name} user=${username}"`),
    );
    await shot(alice, '07-my-access-credential.png');
    const login = await target.login(username, password, 'SELECT name FROM public.items ORDER BY id');
    assert.deepEqual(login, { ok: true, rows: [{ name: 'widget' }, { name: 'gadget' }] });

    // Phone width: same page, one column.
    await alice.setViewportSize({ width: 390, height: 844 });
    await shot(alice, '08-my-access-phone.png');
    await alice.setViewportSize({ width: 1280, height: 860 });

    await grant.getByRole('button', { name: 'Check in' }).click();
    await alice.getByText('No active access').waitFor({ timeout: uiWait });
    await alice.getByRole('list', { name: 'Recent requests and grants' }).getByText('checked in').waitFor();
    assert.equal(await target.roleExists(username), false, 'the account is gone from the target');
    assert.equal((await target.login(username, password, 'SELECT 1')).ok, false);
  });

  it('a denied request: bob denies with a comment, alice sees why, live', async () => {
    await nav(alice, /^Request access/);
    await alice.getByRole('button', { name: /pg-ro-reviewed/ }).click();
    await alice.getByLabel('Duration').fill('15m');
    await alice.getByLabel(/^Reason/).fill('poke around in prod');
    await alice.getByRole('button', { name: 'Ask for approval' }).click();
    await alice.getByRole('list', { name: 'Pending requests' }).getByText('pg-ro-reviewed').waitFor({ timeout: uiWait });

    // bob's inbox fills without a reload.
    const card = bob.locator('li.approval', { hasText: 'poke around in prod' });
    await card.waitFor({ timeout: uiWait });
    await card.getByRole('button', { name: 'Deny' }).click();
    await card.getByText('Say why you deny it').waitFor();
    await card.getByLabel(/^Comment/).fill('no prod browsing during the freeze');
    await card.getByRole('button', { name: 'Deny' }).click();
    await bob.getByText('Inbox zero').waitFor({ timeout: uiWait });

    await alice.getByText('Denied by bob: “no prod browsing during the freeze”').waitFor({ timeout: uiWait });
    await alice.getByText('Nothing waiting').waitFor();
    await shot(alice, '09-my-access-denied.png');
  });

  it('an expired grant disappears on its own, and the audit trail shows it with a verified chain', async () => {
    await nav(alice, /^Request access/);
    await alice
      .getByRole('button', { name: /pg-read/ })
      .first()
      .click();
    await alice.getByLabel('Duration').fill('4s');
    await alice.getByRole('button', { name: 'Get access' }).click();
    const grant = alice.getByRole('list', { name: 'Active grants' }).locator('li', { hasText: 'pg-read' });
    // On a loaded machine the 4 s may be over before the page shows the countdown: either is fine here.
    await grant
      .getByTestId('countdown')
      .or(alice.getByRole('list', { name: 'Recent requests and grants' }).getByText('expired'))
      .first()
      .waitFor();
    await alice.getByText('No active access').waitFor({ timeout: uiWait });
    await alice.getByRole('list', { name: 'Recent requests and grants' }).getByText('expired').waitFor();

    await nav(alice, /^Audit/);
    await alice.getByTestId('chain-status').getByText('Chain verified').waitFor({ timeout: uiWait });
    await alice
      .getByRole('table', { name: /Audit events/ })
      .getByText('grant.revoked')
      .first()
      .waitFor();
    await shot(alice, '10-audit.png');
    await alice.getByLabel('Event type').selectOption('request.denied');
    await alice.getByRole('button', { name: 'Apply' }).click();
    const rows = alice.getByRole('table', { name: /Audit events/ }).locator('tbody tr');
    await until(async () => (await rows.count()) === 1, 'the filter leaves the one denied request');
    assert.match(await rows.innerText(), /request\.denied[\s\S]*bob[\s\S]*alice/);
    const [download] = await Promise.all([alice.waitForEvent('download'), alice.getByRole('button', { name: 'Export JSON lines' }).click()]);
    const file = join(artifacts, 'audit-export.jsonl');
    await download.saveAs(file);
    const { readFile } = await import('node:fs/promises');
    const lines = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; hash: string });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.action, 'request.denied');
    assert.match(lines[0]!.hash, /^[0-9a-f]{64}$/);
  });

  it('admin sees targets with health, live grants with revoke, profiles and policies from the config file', async () => {
    // Something live to show: alice holds pg-read for a while.
    await broker.call(await broker.token('alice'), 'POST', '/v1/requests', { profile: 'pg-read', duration: '20m' });
    await bob.getByRole('button', { name: 'Sign out' }).click();
    await bob.getByLabel('Stint token').waitFor({ timeout: uiWait });
    await signIn(bob, 'root');
    await nav(bob, /^Admin/);
    await bob.getByRole('table', { name: 'Targets' }).getByText('healthy').waitFor({ timeout: uiWait });
    await bob.getByText(broker.configPath).waitFor();
    const row = bob.getByRole('table', { name: 'Live grants' }).locator('tr', { hasText: 'alice' });
    await row.waitFor({ timeout: uiWait });
    await shot(bob, '11-admin.png');
    await row.getByRole('button', { name: /Revoke alice/ }).click();
    await row.getByRole('button', { name: 'Revoke now' }).click();
    await bob.getByText('Nobody holds access through Stint right now.').waitFor({ timeout: uiWait });
    assert.deepEqual(cspViolations, []);
  });
});
