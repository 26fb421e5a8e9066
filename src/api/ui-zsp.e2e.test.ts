// The zero-standing-privilege dashboard end to end, in real Chromium (Debian's,
// driven by playwright-core) against a real broker and PostgreSQL target:
// a real reconcile run stores the target's score, older snapshots give the
// trend, and the page shows per-target bars and the 30-day line; a hostile
// target name in a stored snapshot is shown as text, never run. Alice (no
// admin, no auditor) has no such page. Screenshot in test-artifacts/ui/.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Page } from 'playwright-core';
import { DAY_MS } from '../core/reconcile/zsp.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { chromiumPath, launchChromium, uiWait } from '../testing/browser.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const artifacts = join(root, 'test-artifacts', 'ui');
const skip = !existsSync(chromiumPath) ? 'needs Debian chromium at /usr/bin/chromium' : false;
const hostile = '<img src=x onerror="window.__pwned=1">';

describe('web UI: zero-standing-privilege dashboard in Chromium', { skip }, () => {
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;
  let ctx: BrowserContext;
  let dir: string;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    if (!existsSync(join(root, 'web', 'dist', 'index.html'))) execFileSync('npm', ['run', 'build:web'], { cwd: root, stdio: 'inherit' });
    await mkdir(artifacts, { recursive: true });
    target = await createTestTarget();
    broker = await startTestBroker({ target });
    url = await broker.app.listen('127.0.0.1', 0);
    dir = await mkdtemp(join(tmpdir(), 'stint-chromium-zsp-'));
    ctx = await launchChromium(dir);
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  after(async () => {
    await ctx?.close().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
    await broker?.close();
    await target?.drop();
  });

  it('shows each target’s score as a bar and the pooled trend; strings stay text; plain users have no such page', async () => {
    // A real measurement: pg has no holder outside Stint, so its score is 100%.
    const run = await broker.call(broker.adminToken, 'POST', '/v1/reconcile', { target: 'pg' });
    assert.equal(run.status, 200, run.raw);
    assert.equal(run.body.targets[0].zsp.score, 1);
    const now = Date.now();
    await broker.app.store.insertZspSnapshots([
      { target: 'pg', at: now - 2 * DAY_MS, score: 0, holders: 2, standingHolders: 2 },
      { target: hostile, at: now - DAY_MS, score: 0.25, holders: 4, standingHolders: 3 },
    ]);

    await page.goto(url);
    await page.getByLabel('Stint token').waitFor();
    await page.keyboard.type(broker.adminToken);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Standing privileges' }).click({ timeout: uiWait });
    await page.getByRole('heading', { level: 1, name: 'Zero standing privileges' }).waitFor();
    // Newest per target: pg 100% with no holder, the other 25% (3 of 4 standing): pooled 1/4.
    await page.getByTestId('zsp-overall').getByText('25%').waitFor({ timeout: uiWait });
    const bars = page.getByRole('list', { name: 'Score per target' }).getByRole('listitem');
    assert.equal(await bars.count(), 2);
    assert.match(await page.locator('li[data-target="pg"]').innerText(), /pg\s+100% · 0 of 0 holders standing/);
    assert.match(await bars.filter({ hasText: hostile }).innerText(), /25% · 3 of 4 holders standing/);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    // Three days of trend, oldest first.
    assert.equal(await page.getByRole('img', { name: /Overall score per day, 3 days/ }).count(), 1);
    assert.equal(await page.locator('svg.zsp-trend circle').count(), 3);
    await page.screenshot({ path: join(artifacts, '30-zsp.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);

    // Alice is neither admin nor auditor: no link, and the API refuses her.
    assert.equal((await broker.call(await broker.token('alice'), 'GET', '/v1/reports/zsp')).status, 403);
  });
});
