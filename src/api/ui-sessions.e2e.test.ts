// The Sessions page end to end, in real Chromium (Debian's, driven by
// playwright-core) against a real broker with the PostgreSQL gateway on
// (set up as routes/sessions.int.test.ts does): alice runs psql through the
// gateway, then finds the session, its statement log and row counts in her
// browser; an SSH-format session with a terminal recording (files written in
// the gateway's layout, see sessions-reader.ts) plays in the bundled
// asciinema-player under the UI's CSP. Screenshots land in test-artifacts/ui/.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Page } from 'playwright-core';
import { freePort } from '../embedded/free-port.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { selfSignedCert, type TestCert } from '../gateways/testing/tls-cert.js';
import { chromiumPath, launchChromium, uiWait, until } from '../testing/browser.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const artifacts = join(root, 'test-artifacts', 'ui');

const skip = !existsSync(chromiumPath) ? 'needs Debian chromium at /usr/bin/chromium' : false;

describe('web UI: Sessions in Chromium', { skip }, () => {
  let target: TestTarget;
  let broker: TestBroker;
  let certDir: string;
  let tlsCert: TestCert;
  let port: number;
  let url: string;
  const contexts: BrowserContext[] = [];
  const dirs: string[] = [];
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  const consoleAll: string[] = [];

  async function browser(name: string, viewport = { width: 1280, height: 860 }): Promise<Page> {
    const dir = await mkdtemp(join(tmpdir(), `stint-chromium-${name}-`));
    dirs.push(dir);
    const ctx = await launchChromium(dir, { viewport: viewport });
    contexts.push(ctx);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy|WebAssembly/i.test(m.text())) cspViolations.push(`${name}: ${m.text()}`);
    });
    page.on('console', (m) => consoleAll.push(m.text()));
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    return page;
  }

  const shot = (page: Page, file: string) => page.screenshot({ path: join(artifacts, file), fullPage: true });
  const nav = (page: Page, name: RegExp) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();

  async function signIn(page: Page, user: string) {
    await page.goto(url);
    await page.getByLabel('Stint token').waitFor();
    await page.keyboard.type(await broker.token(user));
    await page.keyboard.press('Enter');
    await page.getByTestId('whoami').getByText(user).waitFor({ timeout: uiWait });
  }

  const psql = (token: string, ...sql: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(
        'psql',
        [`host=127.0.0.1 port=${port} user=alice dbname=pg-read sslmode=require`, '-tA', ...sql.flatMap((s) => ['-c', s])],
        { env: { PATH: process.env.PATH, PGPASSWORD: token } },
        (err, stdout, stderr) =>
          // A failing statement makes psql exit non-zero but it runs the others: keep what it printed.
          err && !stdout ? reject(new Error(stderr)) : resolve(stdout.trim()),
      ),
    );

  before(async () => {
    if (!existsSync(join(root, 'web', 'dist', 'index.html'))) execFileSync('npm', ['run', 'build:web'], { cwd: root, stdio: 'inherit' });
    await mkdir(artifacts, { recursive: true });
    target = await createTestTarget();
    certDir = await mkdtemp(join(tmpdir(), 'stint-gwcert-'));
    tlsCert = selfSignedCert(certDir);
    port = await freePort();
    broker = await startTestBroker({
      target,
      editConfig: (t) =>
        `gateways:\n  postgres: { listen: "127.0.0.1:${port}", tlsCert: ${JSON.stringify(tlsCert.certFile)}, tlsKey: ${JSON.stringify(tlsCert.keyFile)}, maxSession: 10m }\n${t}`,
    });
    url = await broker.app.listen('127.0.0.1', 0);
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await broker?.close();
    await target?.drop();
    if (certDir) await rm(certDir, { recursive: true, force: true });
  });

  let alice: Page;
  let sessionId: string;

  it('an empty Sessions page says so', async () => {
    alice = await browser('alice');
    await signIn(alice, 'alice');
    await nav(alice, /^Sessions/);
    await alice.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
    await alice.getByText('You have no sessions yet').waitFor({ timeout: uiWait });
    assert.equal(await alice.getByLabel('Show everyone’s sessions').count(), 0, 'no all-sessions toggle for a non-admin');
  });

  it('alice’s psql session through the gateway is listed, and its detail shows the statements with row counts', async () => {
    const token = await broker.token('alice');
    const out = await psql(token, 'SELECT count(*) FROM public.items', 'SELECT nope FROM public.items', 'SELECT name FROM public.items ORDER BY id');
    assert.equal(out, '2\nwidget\ngadget');
    await until(async () => (await broker.app.store.listAudit({ action: 'session.ended' })).length === 1, 'the session ended');
    const s = (await broker.call(token, 'GET', '/v1/sessions')).body.sessions[0];
    sessionId = s.id;

    // A fresh load: the page may hold what it fetched while the session was live (live events reload it),
    // and a Refresh click is ignored while a load is still under way.
    await alice.reload();
    const table = alice.getByRole('table', { name: /My sessions/ });
    const row = table.locator('tbody tr', { hasText: sessionId }).filter({ hasText: 'ended' });
    await row.waitFor({ timeout: uiWait });
    const text = await row.innerText();
    for (const want of ['postgres', 'pg-read', 'on pg', s.account, s.grantId, 'ended']) assert.ok(text.includes(want), `row shows ${want}: ${text}`);
    assert.match(text, /\d+(\.\d)? (B|kB) \/ \d+(\.\d)? (B|kB)/, 'bytes in / out');
    await shot(alice, '12-sessions.png');

    // Keyboard: the session link is reachable and opens the detail.
    await row.getByRole('link', { name: sessionId }).focus();
    await alice.keyboard.press('Enter');
    await alice.getByRole('heading', { level: 1, name: `Session ${sessionId}` }).waitFor({ timeout: uiWait });
    assert.equal(new URL(alice.url()).pathname, `/sessions/${sessionId}`);
    const log = alice.getByRole('table', { name: 'Statement log' });
    await log.waitFor({ timeout: uiWait });
    const rows = log.locator('tbody tr');
    assert.equal(await rows.count(), 3);
    const cells = async (i: number) => (await rows.nth(i).locator('td').allInnerTexts()).map((t) => t.trim());
    const [c0, c1, c2] = [await cells(0), await cells(1), await cells(2)];
    assert.deepEqual([c0[2], c0[4], c0[5]], ['SELECT count(*) FROM public.items', '1', '—']);
    assert.equal(c1[2], 'SELECT nope FROM public.items');
    assert.match(c1[5]!, /nope/, 'the error is shown');
    assert.deepEqual([c2[2], c2[4], c2[5]], ['SELECT name FROM public.items ORDER BY id', '2', '—']);
    for (const c of [c0, c1, c2]) {
      assert.match(c[1]!, /^\d\d:\d\d:\d\d\.\d{3}$/, 'time');
      assert.match(c[3]!, /^\d+(\.\d+)?$/, 'duration ms');
    }
    await alice.getByText('(3, 1 failed)').waitFor();
    const facts = await alice.getByRole('region', { name: 'Details' }).innerText();
    assert.match(facts, new RegExp(`${s.account}[\\s\\S]*${s.grantId}[\\s\\S]*session-bound`));
    await shot(alice, '13-session-detail.png');

    await alice.setViewportSize({ width: 390, height: 844 });
    await shot(alice, '13b-session-detail-phone.png');
    await nav(alice, /^Sessions/);
    await alice
      .getByRole('table', { name: /My sessions/ })
      .locator('tbody tr', { hasText: sessionId })
      .waitFor({ timeout: uiWait });
    await shot(alice, '12b-sessions-phone.png');
    await alice.setViewportSize({ width: 1280, height: 860 });
  });

  it('an ssh session’s terminal recording plays in the bundled asciinema-player', async () => {
    // The SSH gateway's files (sessions-reader.ts): <id>.jsonl with session (clientKey → ssh), channel, channel-end and end lines, and <id>-<channel>.cast.
    const dir = join(broker.dataDir, 'sessions');
    const sshId = 'ses_ssh0e2etest1';
    const started = new Date(Date.now() - 60_000).toISOString();
    const at = (s: number) => new Date(Date.parse(started) + s * 1000).toISOString();
    await writeFile(
      join(dir, `${sshId}.jsonl`),
      [
        {
          type: 'session',
          sessionId: sshId,
          user: 'alice',
          profile: 'host-shell',
          target: 'web1',
          grantId: 'gr_ssh0e2etest1',
          account: 'stint_alice_e2essh',
          grantKind: 'session-bound',
          client: '127.0.0.1:50022',
          clientKey: 'SHA256:e2e',
          startedAt: started,
        },
        { type: 'channel', sessionId: sshId, channel: 0, at: at(1), kind: 'shell', detail: null, pty: true, recording: true },
        { type: 'channel', sessionId: sshId, channel: 1, at: at(2), kind: 'exec', detail: 'uptime', pty: false, recording: false },
        { type: 'channel-end', sessionId: sshId, channel: 1, endedAt: at(3), exit: { code: 0 } },
        { type: 'channel-end', sessionId: sshId, channel: 0, endedAt: at(40), exit: { code: 0 } },
        { type: 'end', sessionId: sshId, endedAt: at(41), reason: 'client-disconnected' },
      ]
        .map((o) => `${JSON.stringify(o)}\n`)
        .join(''),
      { mode: 0o600 },
    );
    const cast = [
      { version: 2, width: 80, height: 12, timestamp: Math.floor(Date.parse(started) / 1000) + 1, env: { TERM: 'xterm-256color', SHELL: '/bin/bash' } },
      [0.1, 'o', '\u001b[32mstint_alice_e2essh@web1\u001b[0m:~$ '],
      [0.4, 'o', 'id\r\n'],
      [0.5, 'o', 'uid=1001(stint_alice_e2essh) gid=1001(stint_alice_e2essh) groups=1001(stint_alice_e2essh)\r\n'],
      [0.7, 'o', '\u001b[32mstint_alice_e2essh@web1\u001b[0m:~$ '],
      [0.9, 'o', 'uptime\r\n 12:00:01 up 3 days,  2:04,  1 user,  load average: 0.00, 0.01, 0.05\r\n'],
      [1.1, 'o', '\u001b[32mstint_alice_e2essh@web1\u001b[0m:~$ exit\r\n'],
    ]
      .map((l) => `${JSON.stringify(l)}\n`)
      .join('');
    await writeFile(join(dir, `${sshId}-0.cast`), cast, { mode: 0o600 });

    await alice.getByRole('button', { name: 'Refresh' }).click();
    const row = alice.getByRole('table', { name: /My sessions/ }).locator('tbody tr', { hasText: sshId });
    await row.waitFor({ timeout: uiWait });
    assert.match(await row.innerText(), /ssh[\s\S]*recorded[\s\S]*host-shell[\s\S]*web1[\s\S]*41s[\s\S]*ended/);
    await row.getByRole('link', { name: sshId }).click();
    await alice.getByRole('heading', { level: 1, name: `Session ${sshId}` }).waitFor({ timeout: uiWait });
    assert.equal(await alice.getByRole('table', { name: 'Statement log' }).count(), 0, 'no statement log for ssh');
    const channels = alice.getByRole('table', { name: 'Channels' });
    await channels.waitFor();
    assert.match(await channels.locator('tbody tr').nth(1).innerText(), /exec[\s\S]*uptime[\s\S]*code 0/);

    const player = alice.getByRole('region', { name: 'Terminal recording of channel 0' });
    await player.waitFor({ timeout: uiWait });
    await player.locator('.ap-player').waitFor({ timeout: uiWait });
    // Play from the keyboard: Tab reaches the terminal, Space starts it.
    await player.locator('.ap-term-text').focus();
    await alice.keyboard.press('Space');
    const term = player.locator('.ap-term');
    await until(async () => (await term.innerText().catch(() => '')).includes(':~$ exit'), 'the recording played to its end').catch(async (e) => {
      await shot(alice, 'debug-playback.png');
      console.error('DEBUG', (await player.innerHTML()).slice(0, 3000), cspViolations, pageErrors, consoleAll);
      throw e;
    });
    const shown = await term.innerText();
    assert.match(shown, /uid=1001\(stint_alice_e2essh\)/);
    assert.match(shown, /load average: 0\.00, 0\.01, 0\.05/);
    assert.match(shown, /stint_alice_e2essh@web1\s*:~\$ exit/);
    await alice.evaluate('window.scrollTo(0, 0)');
    await shot(alice, '14-session-playback.png');

    // The .cast download link points at the API.
    assert.equal(await alice.getByRole('link', { name: 'Download .cast' }).getAttribute('href'), `/v1/sessions/${sshId}/recording?channel=0`);
    assert.deepEqual(cspViolations, [], 'the player runs under the UI CSP');
    assert.deepEqual(pageErrors, []);
  });

  it('an admin can switch to everyone’s sessions; a missing session is a clear error', async () => {
    const admin = await browser('root');
    await signIn(admin, 'root');
    await nav(admin, /^Sessions/);
    await admin.getByText('You have no sessions yet').waitFor({ timeout: uiWait });
    await admin.getByLabel('Show everyone’s sessions').check();
    const table = admin.getByRole('table', { name: /All sessions/ });
    await table.locator('tbody tr', { hasText: sessionId }).waitFor({ timeout: uiWait });
    assert.match(await table.locator('thead').innerText(), /User/i);
    assert.match(await table.locator('tbody tr', { hasText: sessionId }).innerText(), /alice/);

    await admin.goto(`${url}/sessions/ses_aaaaaaaaaaaa`);
    await admin
      .getByRole('alert')
      .getByText(/Could not load this session: session ses_aaaaaaaaaaaa not found/)
      .waitFor({ timeout: uiWait });
    assert.deepEqual(cspViolations, []);
  });

  it('a long statement log comes a page at a time: the next page is shown on request', async () => {
    const token = await broker.token('alice');
    const ended = (await broker.app.store.listAudit({ action: 'session.ended' })).length;
    const sqls = Array.from({ length: 1003 }, (_, i) => `SELECT ${i} AS n`);
    await psql(token, ...sqls);
    await until(async () => (await broker.app.store.listAudit({ action: 'session.ended' })).length === ended + 1, 'the session ended');
    const s = (await broker.call(token, 'GET', '/v1/sessions')).body.sessions[0];
    assert.equal(s.statements, 1003);
    await alice.goto(`${url}/sessions/${s.id}`);
    const rows = alice.getByRole('table', { name: 'Statement log' }).locator('tbody tr');
    await alice.getByText('Showing the first 1000 of 1003 statements.').waitFor({ timeout: uiWait });
    assert.equal(await rows.count(), 1000);
    await alice.getByText(`stint sessions show ${s.id} --offset 1000`).waitFor();
    await alice.getByRole('button', { name: 'Show 3 more' }).click();
    await rows.nth(1002).waitFor({ timeout: uiWait });
    assert.equal(await rows.count(), 1003);
    assert.equal((await rows.nth(1002).locator('td').nth(2).innerText()).trim(), 'SELECT 1002 AS n');
    assert.equal(await alice.getByRole('button', { name: /more$/ }).count(), 0, 'nothing more to show');
    assert.deepEqual(cspViolations, []);
  });
});
