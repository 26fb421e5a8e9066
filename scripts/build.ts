// Compiles src/ to JavaScript in dist/ (one .js file per .ts file, same
// folders), which bin/stint.js and the production server run: no TypeScript
// compiler at run time. esbuild only strips types; `tsc --noEmit` checks them.
// Tests and test harnesses are left out. Files that read paths relative to
// themselves (web/dist, package.json) sit at the same depth under dist/ as
// under src/, so those paths hold in both.
//
//   node --import tsx scripts/build.ts      # `npm run build`; `npm ci` runs it through prepare

import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const out = join(root, 'dist');

/** Production sources: every .ts under src/ except tests, test environments (`*-test-env.ts`) and `testing/` folders. */
export async function productionSources(dir = src): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'testing' && entry.name !== 'fixtures') files.push(...(await productionSources(path)));
    } else if (entry.name.endsWith('.ts') && !/\.test\.ts$|-test-env\.ts$|\.d\.ts$/.test(entry.name)) files.push(path);
  }
  return files.sort();
}

/** Relative imports of the compiled files that point at no compiled file (a production module importing a test harness, say). */
async function danglingImports(files: string[]): Promise<string[]> {
  const problems: string[] = [];
  // esbuild prints every import as `from "./x.js"` or `import("./x.js")`.
  const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"(\.{1,2}\/[^"]+)"/g;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(specifier)) {
      const target = resolve(dirname(file), m[1]!);
      if (!existsSync(target)) problems.push(`${relative(root, file)} imports ${m[1]} (not built: a test file or a testing/ module?)`);
    }
  }
  return problems;
}

async function main() {
  const started = performance.now();
  const entryPoints = await productionSources();
  await rm(out, { recursive: true, force: true });
  const result = await build({
    entryPoints,
    outbase: src,
    outdir: out,
    bundle: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    metafile: true,
  });
  const outputs = Object.keys(result.metafile.outputs).map((f) => resolve(root, f));
  const dangling = await danglingImports(outputs);
  if (dangling.length) {
    process.stderr.write(`build: ${dangling.length} broken import(s) in dist/:\n${dangling.map((d) => `  ${d}\n`).join('')}`);
    process.exit(1);
  }
  process.stderr.write(`build: ${outputs.length} files in dist/ (${Math.round(performance.now() - started)} ms)\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
