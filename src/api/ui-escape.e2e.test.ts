// The web UI shows free text, never acts on it: a reason stored with a
// right-to-left override, an ESC sequence and a zero-width space (written to
// the store directly, as the API refuses them) appears on the approver's page
// in real Chromium with those characters as visible escapes, so the override
// cannot turn the text around.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type BrowserContext } from 'playwright-core';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { chromiumPath, launchChromium } from '../testing/browser.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('web UI escapes stored free text', { skip: existsSync(chromiumPath) ? false : 'needs Debian chromium at /usr/bin/chromium' }, () => {
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;
  let ctx: BrowserContext | undefined;
  let dir: string;

  before(async () => {
    if (!existsSync(join(root, 'web', 'dist', 'index.html'))) execFileSync('npm', ['run', 'build:web'], { cwd: root, stdio: 'inherit' });
    target = await createTestTarget();
    broker = await startTestBroker({ target });
    url = await broker.app.listen('127.0.0.1', 0);
    dir = await mkdtemp(join(tmpdir(), 'stint-chromium-escape-'));
  });
  after(async () => {
    await ctx?.close();
    await rm(dir, { recursive: true, force: true });
    await broker?.close();
    await target?.drop();
  });

  it('a reason with a bidi override and an ESC sequence is shown escaped on the approvals page', async () => {
    const alice = await broker.token('alice');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: 'plain' });
    const id = r.body.request.id;
    const db = new Database(join(broker.dataDir, 'stint.db'));
    try {
      db.prepare('UPDATE requests SET reason = ?, ticket = ? WHERE id = ?').run('invoice\u202efdp.exe\u001b[8m hidden\u200b', 'OPS\u2066-1', id);
    } finally {
      db.close();
    }

    ctx = await launchChromium(dir);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(url);
    await page.getByLabel('Stint token').waitFor();
    await page.getByLabel('Stint token').fill(await broker.token('bob'));
    await page.keyboard.press('Enter');
    await page.getByTestId('whoami').getByText('bob').waitFor({ timeout: 120_000 });
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: /^Approvals/ })
      .click();
    const reason = page.locator('.reason').first();
    await reason.waitFor({ timeout: 120_000 });
    const shown = (await reason.textContent()) ?? '';
    assert.equal(shown, '“invoice\\u{202e}fdp.exe\\x1b[8m hidden\\u{200b}”');
    const body = (await page.locator('body').textContent()) ?? '';
    assert.equal(
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/.test(body),
      false,
      'no raw control or bidi character on the page',
    );
    assert.ok(body.includes('OPS\\u{2066}-1'));
  });
});
