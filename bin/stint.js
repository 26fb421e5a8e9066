#!/usr/bin/env node
// The `stint` command. Runs the compiled JavaScript in dist/ (`npm ci` builds
// it through prepare; `npm run build` after changing src/). Paths resolve
// relative to this file, so it works from any directory.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('stint: dist/ is not built; run `npm run build` in the checkout\n');
  process.exit(1);
}
await import(main.href);
