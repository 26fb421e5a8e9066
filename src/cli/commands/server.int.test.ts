// `stint server` and `stint demo` as a person runs them: the real binary.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../embedded/free-port.js';
import { createTestTarget, testConfigYaml, type TestTarget } from '../../testing/broker.js';
import { binPath, runBinary } from '../testing/fake-api.js';

describe('stint server (real binary)', () => {
  let target: TestTarget;
  let dir: string;
  let child: ChildProcess | undefined;

  before(async () => {
    target = await createTestTarget();
    dir = await mkdtemp(join(tmpdir(), 'stint-server-'));
  });
  after(async () => {
    child?.kill('SIGKILL');
    await target?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a bad config with file:line:column and exit 2', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'targets:\n  - name: pg\n    kind: postgres\n    port: 70000\n');
    const r = await runBinary(['server', '--config', bad, '--data-dir', join(dir, 'd0')], { PATH: process.env.PATH });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml:4:11: targets\[0\]\.port/);
  });

  it('starts, writes the admin token 0600, serves the API, stops on SIGTERM', async () => {
    const secretFile = join(dir, 'pg.secret');
    await writeFile(secretFile, target.adminPassword, { mode: 0o600 });
    const config = join(dir, 'stint.yaml');
    await writeFile(config, testConfigYaml(target, secretFile));
    const port = await freePort();
    const dataDir = join(dir, 'data');
    child = spawn(process.execPath, [binPath, 'server', '--config', config, '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], {
      env: { PATH: process.env.PATH, STINT_MASTER_KEY: Buffer.alloc(32, 9).toString('hex'), STINT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    // Generous: a loaded machine can take long to start a broker; the test waits for the line, it does not time it.
    const deadline = Date.now() + 120_000;
    while (!stderr.includes('listening on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(stderr, /listening on http:\/\/127\.0\.0\.1:\d+/);
    const tokenFile = join(dataDir, 'admin.token');
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    const token = (await readFile(tokenFile, 'utf8')).trim();
    assert.ok(!stderr.includes(token), 'the token is written to the file, not the log');
    const h = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(h.status, 200);
    const who = await runBinary(['whoami', '--json'], { PATH: process.env.PATH, STINT_SERVER: `http://127.0.0.1:${port}`, STINT_TOKEN: token });
    assert.equal(JSON.parse(who.stdout).user, 'admin');
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    child = undefined;
  });
});

describe('stint demo (real binary)', () => {
  it('runs the whole story and exits 0', async () => {
    const r = await runBinary(['demo'], { PATH: process.env.PATH, HOME: process.env.HOME });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /7\. the audit trail proves it/);
    assert.doesNotMatch(r.stdout, /✗/);
    assert.match(r.stdout, /hash chain intact/);
    assert.match(r.stdout, /Demo finished in \d+\.\ds/);
  });
});
