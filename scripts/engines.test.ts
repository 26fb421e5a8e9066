// Every installed package must run on every Node version Stint supports:
// package.json's `engines.node` range has to lie inside each package's own
// `engines.node` range (a dependency that moves to Node ≥ 22 fails here, not
// on a user's Node 20).

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const root = fileURLToPath(new URL('..', import.meta.url));
const ours = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

interface Installed {
  path: string;
  name: string;
  version: string;
  node: string | undefined;
}

/** Every package under node_modules, nested ones too. */
function installed(dir: string): Installed[] {
  const found: Installed[] = [];
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    // Symbolic links count too: scripts/test-node24.sh runs the tests in a tree of links to node_modules.
    if (!(entry.isDirectory() || entry.isSymbolicLink()) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      found.push(...installed(path));
      continue;
    }
    const manifest = join(path, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string; engines?: { node?: unknown } };
      const node = typeof pkg.engines?.node === 'string' ? pkg.engines.node : undefined;
      found.push({ path, name: pkg.name ?? entry.name, version: pkg.version ?? '?', node });
    }
    found.push(...installed(join(path, 'node_modules')));
  }
  return found;
}

describe('supported Node versions', () => {
  it('package.json names a valid range that admits the Node running the tests', () => {
    assert.ok(semver.validRange(ours), `engines.node ${JSON.stringify(ours)} is not a semver range`);
    assert.ok(semver.satisfies(process.version, ours), `Node ${process.version} is outside engines.node ${ours}`);
    for (const major of [20, 22, 24]) assert.ok(semver.intersects(ours, `${major}.x`), `engines.node ${ours} leaves out Node ${major}`);
  });

  it("every installed package's engines.node admits every version we support", () => {
    const packages = installed(join(root, 'node_modules'));
    assert.ok(packages.length > 100, `only ${packages.length} packages found under node_modules`);
    const refused = packages
      .filter((p) => p.node !== undefined && p.node.trim() !== '' && !semver.subset(ours, p.node, { includePrerelease: false }))
      .map((p) => `${p.name}@${p.version} (${p.path.slice(root.length)}) wants node ${p.node}`);
    assert.deepEqual(refused, [], `packages that refuse part of ${ours}:\n${refused.join('\n')}`);
  });
});
