// The CLI loads a command's module only when that command runs, so
// `stint --help` and the client commands start without the broker's
// dependencies (bench/cli-startup.ts measures the start-up time).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { commandGroups, commands, generalHelp } from './dispatch.js';
import { binPath } from './testing/fake-api.js';

describe('command table', () => {
  it('each entry loads the command of its own name, and --help lists each once', async () => {
    const names = commandGroups.flatMap((g) => g.commands.map((c) => c.name));
    assert.equal(new Set(names).size, names.length);
    assert.equal(commands.size, names.length);
    for (const entry of commands.values()) {
      const command = await entry.load();
      assert.equal(command.name, entry.name);
      assert.match(generalHelp(), new RegExp(`\\n  ${entry.name} +${entry.summary.replace(/[()?*+.[\]\\]/g, '\\$&')}\\n`));
    }
  });
});

describe('the real binary loads only what the command needs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-lazy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // A module hook that appends the URL of every module Node loads to a file.
  const log = join(dir, 'loaded.txt');
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }\n`,
  );
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`,
  );

  function loaded(args: string[]): string[] {
    writeFileSync(log, '');
    const env = { PATH: process.env.PATH, HOME: dir, STINT_SERVER: 'http://127.0.0.1:9', STINT_TOKEN: `stint_${'a'.repeat(43)}` };
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, binPath, ...args], { env, encoding: 'utf8' });
    assert.notEqual(r.status, null, r.stderr);
    const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    assert.ok(
      urls.some((u) => u.endsWith('/dist/cli/main.js')),
      `the binary ran ${urls.join(', ')}`,
    );
    return urls;
  }

  it('stint --help loads no package and no command module', () => {
    const urls = loaded(['--help']);
    assert.deepEqual(
      urls.filter((u) => u.includes('/node_modules/')),
      [],
    );
    assert.deepEqual(
      urls.filter((u) => u.includes('/cli/commands/')),
      [],
    );
  });

  it('stint grants --json loads its own command and no package (no zod, Fastify, drivers, SQLite)', () => {
    const urls = loaded(['grants', '--json']);
    assert.deepEqual(
      urls.filter((u) => u.includes('/node_modules/')),
      [],
    );
    assert.deepEqual(
      urls.filter((u) => u.includes('/cli/commands/')).map((u) => u.replace(/.*\/cli\/commands\//, '')),
      ['grants.js'],
    );
    assert.deepEqual(
      urls.filter((u) => /\/dist\/(app|store|connectors|gateways|api)\//.test(u)),
      [],
    );
  });

  it('stint server --help loads the broker from dist/, without tsx', () => {
    const urls = loaded(['server', '--help']);
    assert.ok(urls.some((u) => u.endsWith('/dist/app.js')));
    assert.deepEqual(
      urls.filter((u) => u.includes('/src/') || u.endsWith('.ts') || u.includes('/node_modules/tsx/')),
      [],
    );
  });
});
