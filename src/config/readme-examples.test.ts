// Every config example in the docs loads: each fenced ```yaml block in
// README.md, docs/*.md and every README.md under src/ whose top level has a
// `targets:` or `profiles:` key goes through the real config loader, then its
// targets through their connector's own settings schema and factory (which
// open no connection), with each admin secret read from a stub. A block that
// is deliberately not a whole config is marked ```yaml fragment and skipped
// (docs/adding-a-connector.md, "Config examples").

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { createConnector } from '../connectors/kit/create.js';
import { connectorModules } from '../connectors/registry.js';
import { loadConfigFile } from './load.js';
import { readAdminSecret } from './secrets.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function readmesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await readmesUnder(p)));
    else if (e.name === 'README.md') out.push(p);
  }
  return out;
}

async function docFiles(): Promise<string[]> {
  const docs = (await readdir(join(root, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => join(root, 'docs', f));
  return [join(root, 'README.md'), ...docs, ...(await readmesUnder(join(root, 'src')))];
}

interface Block {
  file: string;
  line: number;
  info: string;
  text: string;
}

/** Fenced blocks whose info string starts with `yaml`. */
function yamlBlocks(file: string, markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*(yaml\b.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j]!.trimStart().startsWith(fence!); j++) body.push(lines[j]!.slice(indent!.length));
    out.push({ file, line: i + 1, info: info!.trim(), text: body.join('\n') });
    i = j;
  }
  return out;
}

function isWholeConfig(text: string): boolean {
  const doc: unknown = parse(text);
  return typeof doc === 'object' && doc !== null && ('targets' in doc || 'profiles' in doc);
}

async function checkLoads(block: Block): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'stint-readme-'));
  try {
    const file = join(dir, 'stint.yaml');
    await writeFile(file, block.text);
    const config = await loadConfigFile(file);
    const env: NodeJS.ProcessEnv = {};
    for (const t of config.catalog.targets.values()) {
      const source = t.adminSecretSource;
      // An environment variable or a file beside the example is stubbed and read as the broker would.
      let secret = 'stub-admin-secret';
      if ('env' in source) {
        env[source.env] = secret;
        secret = await readAdminSecret(t, env);
      } else if ('file' in source && source.file.startsWith(dir + '/')) {
        await mkdir(dirname(source.file), { recursive: true });
        await writeFile(source.file, `${secret}\n`, { mode: 0o600 });
        await chmod(source.file, 0o600);
        secret = await readAdminSecret(t, env);
      }
      const c = createConnector(connectorModules[t.kind], { target: t.name, settings: t.settings, adminUser: t.adminUser, adminSecret: secret });
      await c.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('config examples in the docs', async () => {
  const blocks = (await Promise.all((await docFiles()).map(async (f) => yamlBlocks(relative(root, f), await readFile(f, 'utf8'))))).flat();

  it('reads fences as the convention says: yaml is loaded, yaml fragment is skipped', () => {
    const md = ['text', '```yaml', 'targets: []', '```', '  ```yaml fragment', '  profiles: []', '  ```', '```sh', 'targets:', '```'].join('\n');
    assert.deepEqual(
      yamlBlocks('x.md', md).map((b) => [b.line, b.info, b.text]),
      [
        [2, 'yaml', 'targets: []'],
        [5, 'yaml fragment', 'profiles: []'],
      ],
    );
  });

  it("finds the connector READMEs' examples", () => {
    for (const kind of Object.keys(connectorModules)) {
      assert.ok(
        blocks.some((b) => b.file === `src/connectors/${kind}/README.md` && b.info === 'yaml' && isWholeConfig(b.text)),
        `src/connectors/${kind}/README.md has no whole config example`,
      );
    }
  });

  for (const b of blocks) {
    if (b.info !== 'yaml') continue; // `yaml fragment`: deliberately not a whole config
    if (!isWholeConfig(b.text)) continue;
    it(`${b.file}:${b.line} loads`, async () => {
      await checkLoads(b).catch((err: unknown) => {
        assert.fail(`${b.file}:${b.line}: ${(err as Error).message.replace(/\S*stint\.yaml:/g, 'example line ')}`);
      });
    });
  }
});
