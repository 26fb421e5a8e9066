// Debian's Chromium, driven by playwright-core, for the end-to-end tests (never
// a downloaded browser). Every wait and action gets one generous bound: it only
// limits how long a failure takes to show, so a loaded machine is slow, not red.

import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';
export const haveChromium = existsSync(chromiumPath);
/** The bound on any one wait or action in a browser test. */
export const uiWait = 120_000;

const flags = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A headless Chromium with its own profile directory `dir`. */
export async function launchChromium(dir: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<BrowserContext> {
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath,
    headless: true,
    args: flags,
    viewport: opts.viewport ?? { width: 1280, height: 860 },
    timeout: uiWait,
  });
  ctx.setDefaultTimeout(uiWait);
  ctx.setDefaultNavigationTimeout(uiWait);
  return ctx;
}

/** Waits until `check` holds, at most `uiWait`. */
export async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + uiWait;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
