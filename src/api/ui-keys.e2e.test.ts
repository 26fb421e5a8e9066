// The SSH keys page end to end, in real Chromium (Debian's, driven by
// playwright-core) against a real broker with the SSH gateway on: alice adds
// her public key, is stopped before a pasted private key is ever sent, sees
// how to connect (with the gateway's real host key), and removes the key.
// Screenshots land in test-artifacts/ui/.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Page } from 'playwright-core';
import { freePort } from '../embedded/free-port.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { keyProofNamespace } from '../core/keys/key-service.js';
import { sshKeygenSign, testKeyPair } from '../testing/ssh-keys.js';
import { chromiumPath, launchChromium, uiWait } from '../testing/browser.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const artifacts = join(root, 'test-artifacts', 'ui');
const skip = !existsSync(chromiumPath) ? 'needs Debian chromium at /usr/bin/chromium' : false;

describe('web UI: SSH keys in Chromium', { skip }, () => {
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;
  let gwPort: number;
  let ctx: BrowserContext;
  let dir: string;
  let page: Page;
  const requests: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    if (!existsSync(join(root, 'web', 'dist', 'index.html'))) execFileSync('npm', ['run', 'build:web'], { cwd: root, stdio: 'inherit' });
    await mkdir(artifacts, { recursive: true });
    target = await createTestTarget();
    gwPort = await freePort();
    broker = await startTestBroker({ target, editConfig: (t) => `gateways:\n  ssh: { listen: "127.0.0.1:${gwPort}" }\n${t}` });
    url = await broker.app.listen('127.0.0.1', 0);
    dir = await mkdtemp(join(tmpdir(), 'stint-chromium-keys-'));
    ctx = await launchChromium(dir, { viewport: { width: 1280, height: 860 } });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (r) => {
      if (r.method() === 'POST') requests.push(`${r.url()} ${r.postData() ?? ''}`);
    });
  });

  after(async () => {
    await ctx?.close().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
    await broker?.close();
    await target?.drop();
  });

  it('alice adds her key, a pasted private key never leaves the page, the connect help has the real host key, and she removes the key', async () => {
    const key = testKeyPair('alice@laptop');
    await page.goto(url);
    await page.getByLabel('Stint token').waitFor();
    await page.keyboard.type(await broker.token('alice'));
    await page.keyboard.press('Enter');
    await page.getByTestId('whoami').getByText('alice').waitFor({ timeout: uiWait });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'SSH keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'SSH keys' }).waitFor();
    await page.getByText('No keys yet').waitFor({ timeout: uiWait });

    // How to connect: the gateway's address and its host key as the broker holds it.
    const gw = (await broker.call(await broker.token('alice'), 'GET', '/v1/gateways')).body.ssh;
    assert.equal(await page.getByTestId('known-hosts').innerText(), `[127.0.0.1]:${gwPort} ${gw.hostKey}`);
    assert.match(await page.getByTestId('ssh-command').innerText(), new RegExp(`ssh -p ${gwPort} alice\\+PROFILE@127\\.0\\.0\\.1`));

    // A private key: refused on the page, the button stays off, nothing is posted.
    const posted = requests.length;
    await page.getByLabel('Public key').fill(key.private);
    await page.getByText('That is a private key. It was not sent.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Add key' }).isDisabled(), true);
    await page.getByLabel('Public key').press('Control+Enter');
    assert.equal(requests.length, posted, 'no request carried the private key');
    assert.ok(!requests.some((r) => r.includes('PRIVATE KEY')));

    // A public key: the page asks for proof, with the exact ssh-keygen command to run.
    await page.getByLabel('Public key').fill(key.public);
    const command = page.getByTestId('sign-command');
    await command.waitFor({ timeout: uiWait });
    const cmd = await command.innerText();
    const challenge = /^printf '%s' '([^']+)' \| ssh-keygen -Y sign -n stint-key-registration@stint -f ~\/\.ssh\/id_ed25519$/.exec(cmd.trim())?.[1];
    assert.ok(challenge, cmd);
    assert.equal(await page.getByRole('button', { name: 'Add key' }).isDisabled(), true, 'not without the signature');
    // A signature by some other key is refused by the broker, with its reason.
    await page.getByLabel('Proof that the key is yours').fill(sshKeygenSign(testKeyPair().private, keyProofNamespace, challenge));
    await page.getByRole('button', { name: 'Add key' }).click();
    await page.getByText(/made with another key than the one being registered/).waitFor({ timeout: uiWait });
    assert.deepEqual(await broker.app.store.listSshKeys('alice'), []);
    await page.getByLabel('Proof that the key is yours').fill(sshKeygenSign(key.private, keyProofNamespace, challenge));
    await page.getByLabel('Label (optional)').fill('work laptop');
    await page.screenshot({ path: join(artifacts, '19-keys-proof.png'), fullPage: true });
    await page.getByRole('button', { name: 'Add key' }).click();
    const stored = async () => broker.app.store.listSshKeys('alice');
    for (let i = 0; i < 100 && (await stored()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const [k] = await stored();
    assert.ok(k, 'the key was registered');
    assert.equal(k.comment, 'work laptop');
    const row = page.locator(`li[data-key="${k.id}"]`);
    await row.waitFor({ timeout: uiWait });
    assert.match(await row.innerText(), new RegExp(`ssh-ed25519\\s+${k.fingerprint.replace(/[+/]/g, '\\$&')}[\\s\\S]*work laptop`));
    await page.screenshot({ path: join(artifacts, '20-keys.png'), fullPage: true });

    // The same key again: the broker's reason is shown.
    await page.getByLabel('Public key').fill(key.public);
    await page.getByTestId('sign-command').waitFor({ timeout: uiWait });
    const again = /'([^']+)' \|/.exec(await page.getByTestId('sign-command').innerText())![1]!;
    await page.getByLabel('Proof that the key is yours').fill(sshKeygenSign(key.private, keyProofNamespace, again));
    await page.getByRole('button', { name: 'Add key' }).click();
    await page.getByText(/already registered for alice/).waitFor({ timeout: uiWait });

    await row.getByRole('button', { name: `Remove key ${k.fingerprint}` }).click();
    await row.getByRole('button', { name: 'Remove now' }).click();
    await page.getByText('No keys yet').waitFor({ timeout: uiWait });
    assert.deepEqual(await stored(), []);
    assert.deepEqual(pageErrors, []);
  });
});
