// The script connector: the shared contract suite against the example device
// simulator (a real process) driven by the example admin script, then what is
// specific to running scripts — fixed argv, stdin-only data, timeouts that
// kill the process group, malformed answers, exit codes, output limits and
// secrets — using a deliberately misbehaving fake script.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StintError } from '../../core/errors.js';
import { freePort } from '../../embedded/free-port.js';
import type { Connector } from '../contract.js';
import { connectorContractSuite } from '../testing/contract-suite.js';
import { createDeviceTestEnv, deviceHarness, DeviceClient, testSecret, type DeviceTestEnv } from './testing/device-test-env.js';
import { createScriptConnector } from './module.js';
import type { Operation } from './settings.js';
import { rejectsTarget } from '../testing/rejects-target.js';

const inAnHour = () => new Date(Date.now() + 3600_000);
const fakeScript = fileURLToPath(new URL('./testing/fixtures/fake-script.mjs', import.meta.url));

connectorContractSuite({
  name: 'script (device simulator)',
  setup: async () => deviceHarness(await createDeviceTestEnv()),
});

function assertClean(err: Error, ...secrets: string[]): void {
  for (const s of secrets) {
    assert.ok(!err.message.includes(s), `secret leaked into the message: ${err.message}`);
    assert.ok(!String(err.stack).includes(s), 'secret leaked into the stack');
  }
}

/** Running (a zombie counts as dead: in a container, PID 1 may never reap an orphan). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('script connector: running scripts (fake script)', () => {
  const adminSecret = `ADMIN${testSecret()}`;
  let dir: string;
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'stint-script-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const fake = (...args: string[]) => [process.execPath, fakeScript, ...args];
  const all = (argv: string[]) =>
    Object.fromEntries((['create', 'remove', 'extend', 'grant', 'revoke', 'list', 'describe', 'health'] as const).map((op) => [op, argv]));

  /** A connector whose commands are the fake script; `overrides` replace (or, with null, drop) single commands. */
  function connector(opts: { argv?: string[]; overrides?: Partial<Record<Operation, string[] | null>>; settings?: Record<string, unknown> } = {}) {
    const recordFile = join(dir, `record-${++n}.jsonl`);
    const commands: Record<string, string[]> = all(opts.argv ?? fake('record', recordFile));
    for (const [op, argv] of Object.entries(opts.overrides ?? {})) {
      if (argv === null) delete commands[op];
      else commands[op] = argv!;
    }
    const conn = createScriptConnector({ target: 'fake', settings: { commands, timeout: '20s', ...opts.settings }, adminUser: 'root', adminSecret });
    const records = () =>
      existsSync(recordFile)
        ? readFileSync(recordFile, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { argv: string[]; env: Record<string, string>; cwd: string; request: Record<string, unknown> })
        : [];
    return { conn, records, recordFile };
  }

  it('a hostile account name and the secrets reach the script only on stdin; argv and env are fixed', async () => {
    const { conn, records, recordFile } = connector({ settings: { env: { DEVICE_PORT: '5020' } } });
    const account = `x"; rm -rf / #$(touch ${join(dir, 'pwned')}) \`id\` | nc evil 1`;
    const secret = `SECRET${testSecret()}`;
    const expiresAt = inAnHour();
    await conn.createAccount({ account, secret, grants: ['viewer', "g'; DROP"], expiresAt });
    await conn.removeAccount({ account });
    await conn.revokeFromAccount({ account, grants: ['viewer'], terminateSessions: true });
    const seen = records();
    assert.deepEqual(
      seen.map((r) => r.request.operation),
      ['describe', 'create', 'describe', 'remove', 'revoke'],
    );
    for (const r of seen) {
      // Exactly the configured argv: process.argv[0] is node, [1] the script.
      assert.deepEqual(r.argv, [process.execPath, fakeScript, 'record', recordFile]);
      assert.deepEqual(Object.keys(r.env).sort(), ['DEVICE_PORT', 'PATH'], 'only PATH and the configured variables');
      assert.equal(r.cwd, '/');
      assert.ok(!JSON.stringify(r.argv).includes(secret) && !JSON.stringify(r.env).includes(adminSecret));
      assert.equal(r.request.account, account);
      assert.equal(r.request.adminSecret, adminSecret);
      assert.equal(r.request.adminUser, 'root');
      assert.equal(r.request.protocol, 1);
      assert.equal(r.request.target, 'fake');
    }
    const create = seen[1]!.request;
    assert.deepEqual(create, {
      protocol: 1,
      operation: 'create',
      target: 'fake',
      adminUser: 'root',
      adminSecret,
      account,
      secret,
      grants: ['viewer', "g'; DROP"],
      expiresAt: expiresAt.toISOString(),
    });
    assert.equal(seen[4]!.request.terminateSessions, true);
    assert.equal(existsSync(join(dir, 'pwned')), false, 'nothing was evaluated by a shell');
  });

  it('a timeout kills the script and everything it started, and is retryable', async () => {
    // The script writes its pid file once it has started its grandchild. On a
    // busy machine the timeout can kill it before that (the file never
    // appears: nothing to check yet), so the test asks again with twice the
    // timeout until the script got that far; a fast machine needs one round.
    let pids: { script: number; grandchild: number } | null = null;
    for (let timeout = 500; pids === null; timeout *= 2) {
      assert.ok(timeout <= 64_000, 'the script never got to write its pid file, even with a 64 s timeout');
      const pidFile = join(dir, `pids-${timeout}.json`);
      const { conn } = connector({ argv: fake('hang', pidFile), settings: { timeout } });
      const secret = `SECRET${testSecret()}`;
      const started = performance.now();
      const err = await rejectsTarget(conn.createAccount({ account: 'acct', secret, grants: [], expiresAt: inAnHour() }));
      assert.equal(err.retryable, true, err.message);
      assert.match(
        err.message,
        new RegExp(`createAccount of account "acct" failed: commands\\.describe .* did not finish within ${timeout} ms and was killed`),
      );
      assertClean(err, secret, adminSecret);
      // It ends rather than waiting for the script (a generous bound: only a hang fails it).
      assert.ok(performance.now() - started < timeout + 60_000);
      if (existsSync(pidFile)) pids = JSON.parse(readFileSync(pidFile, 'utf8')) as { script: number; grandchild: number };
    }
    // SIGKILL to the group is immediate; the kernel may take a moment to reap (however busy it is).
    const deadline = performance.now() + 60_000;
    while ((alive(pids.script) || alive(pids.grandchild)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(pids.script), false, 'script killed');
    assert.equal(alive(pids.grandchild), false, 'grandchild in the same process group killed');
  });

  it('an answer that is not JSON is a clear, non-retryable error naming the command, without secrets or stdout', async () => {
    const { conn } = connector({ overrides: { describe: null, create: fake('not-json') } });
    const secret = `SECRET${testSecret()}`;
    const err = await rejectsTarget(conn.createAccount({ account: 'acct', secret, grants: [], expiresAt: inAnHour() }));
    assert.equal(err.retryable, false);
    assert.ok(err.message.includes(`commands.create (${process.execPath} ${fakeScript} not-json)`), err.message);
    assert.match(err.message, /malformed answer: stdout is not one JSON document/);
    assert.ok(!err.message.includes('Traceback'), 'stdout is not echoed');
    assertClean(err, secret, adminSecret);
  });

  it('JSON of the wrong shape is named by field, never by value', async () => {
    const { conn } = connector({ overrides: { describe: null, create: fake('wrong-shape'), remove: fake('wrong-shape') } });
    const secret = `SECRET${testSecret()}`;
    const err = await rejectsTarget(conn.createAccount({ account: 'acct', secret, grants: [], expiresAt: inAnHour() }));
    assert.equal(err.retryable, false);
    assert.match(err.message, /commands\.create .* malformed answer: ok: /);
    assertClean(err, secret, adminSecret);
    const removeErr = await rejectsTarget(conn.removeAccount({ account: 'acct' }));
    assert.match(removeErr.message, /malformed answer: existed: .*boolean.*terminatedSessions: /);
    assertClean(removeErr, adminSecret);
  });

  it('a non-zero exit with a JSON error carries the script message (scrubbed, one line) and its retryable flag', async () => {
    const secret = `SECRET${testSecret()}`;
    const refused = connector({ overrides: { describe: null, create: fake('json-error', '3', 'false') } }).conn;
    const err = await rejectsTarget(refused.createAccount({ account: 'acct', secret, grants: [], expiresAt: inAnHour() }));
    assert.equal(err.retryable, false);
    assert.match(err.message, /commands\.create .* reported: device said no \(secret=\S+ admin=\S+\) second line$/);
    assertClean(err, secret, adminSecret);
    const outage = connector({ overrides: { health: fake('json-error', '1', 'true') } }).conn;
    assert.equal((await rejectsTarget(outage.checkHealth())).retryable, true);
  });

  it('exit codes without a JSON error: 75 is retryable, others are not; stderr is never shown', async () => {
    const secret = `SECRET${testSecret()}`;
    for (const [code, retryable] of [
      ['75', true],
      ['2', false],
    ] as const) {
      const { conn } = connector({ overrides: { describe: null, create: fake('exit', code) } });
      const err = await rejectsTarget(conn.createAccount({ account: 'acct', secret, grants: [], expiresAt: inAnHour() }));
      assert.equal(err.retryable, retryable, err.message);
      assert.ok(err.message.includes(`exited with code ${code} without a JSON error`), err.message);
      assertClean(err, secret, adminSecret);
    }
  });

  it('output over the limit is cut, the script killed, and the failure reported', async () => {
    const { conn } = connector({ overrides: { health: fake('flood') } });
    const err = await rejectsTarget(conn.checkHealth());
    assert.equal(err.retryable, false);
    assert.match(err.message, /commands\.health .* wrote more than 1048576 bytes to stdout; the output was cut and the script killed/);
    const small = connector({ overrides: { health: fake('flood') }, settings: { maxOutputBytes: 4096 } }).conn;
    assert.match((await rejectsTarget(small.checkHealth())).message, /more than 4096 bytes/);
  });

  it('refuses a config that puts the admin secret in argv or env, without echoing it', () => {
    for (const settings of [
      { commands: { ...all(fake('record', '/dev/null')), remove: fake('--password', adminSecret) } },
      { commands: all(fake('record', '/dev/null')), env: { DEVICE_PASSWORD: adminSecret } },
    ]) {
      const err = (() => {
        try {
          createScriptConnector({ target: 'fake', settings, adminUser: 'root', adminSecret });
        } catch (e) {
          return e;
        }
        return assert.fail('expected the config to be refused');
      })();
      assert.ok(err instanceof StintError && err.code === 'invalid');
      assert.match(err.message, /admin secret; scripts receive it on stdin/);
      assert.ok(!err.message.includes(adminSecret));
    }
  });

  it('an executable that cannot be started is a non-retryable error', async () => {
    const { conn } = connector({ overrides: { health: ['/nonexistent/stint-script'] } });
    const err = await rejectsTarget(conn.checkHealth());
    assert.equal(err.retryable, false);
    assert.match(err.message, /could not be started \(ENOENT\)/);
  });

  it('enforces the marker itself: a script reporting an unmanaged account is never asked to change it', async () => {
    const { conn, records } = connector({ settings: { env: { FAKE_DESCRIBE: 'unmanaged' } } });
    for (const op of [
      () => conn.removeAccount({ account: 'someone' }),
      () => conn.createAccount({ account: 'someone', secret: testSecret(), grants: [], expiresAt: inAnHour() }),
      () => conn.extendAccount({ account: 'someone', expiresAt: inAnHour() }),
    ]) {
      const err = await rejectsTarget(op());
      assert.equal(err.retryable, false);
      assert.match(err.message, /not managed by Stint; (remove|create|extend) refused, nothing changed/);
    }
    assert.deepEqual(
      records().map((r) => r.request.operation),
      ['describe', 'describe', 'describe'],
    );
  });

  it('listManaged keeps only entries marked managed; describe falls back to list; extend without a command is checked but a no-op', async () => {
    const { conn, records } = connector({ overrides: { describe: null, extend: null } });
    assert.deepEqual((await conn.listManaged()).accounts, [{ account: 'mine', grants: ['g'], expiresAt: null }]);
    assert.deepEqual(await conn.describeAccount({ account: 'theirs' }), { account: 'theirs', exists: true, grants: [] });
    assert.deepEqual(await conn.describeAccount({ account: 'nobody' }), { account: 'nobody', exists: false, grants: [] });
    await conn.extendAccount({ account: 'mine', expiresAt: inAnHour() });
    assert.deepEqual(
      records().map((r) => r.request.operation),
      ['list', 'list', 'list'],
    );
    const managed = connector({ overrides: { extend: null }, settings: { env: { FAKE_DESCRIBE: 'missing' } } }).conn;
    assert.match((await rejectsTarget(managed.extendAccount({ account: 'gone', expiresAt: inAnHour() }))).message, /does not exist/);
  });

  it('a configured sessions command runs after remove, and after revoke only when asked', async () => {
    const { conn, records } = connector({ overrides: { sessions: fake('record', join(dir, 'unused')) }, settings: { env: { FAKE_DESCRIBE: 'managed' } } });
    assert.deepEqual(await conn.removeAccount({ account: 'a' }), { existed: true, terminatedSessions: 2 });
    assert.deepEqual(await conn.revokeFromAccount({ account: 'a', grants: ['g'], terminateSessions: false }), { terminatedSessions: 0 });
    assert.deepEqual(await conn.revokeFromAccount({ account: 'a', grants: ['g'], terminateSessions: true }), { terminatedSessions: 2 });
    assert.deepEqual(
      records().map((r) => r.request.operation),
      ['describe', 'remove', 'revoke', 'revoke'],
    );
  });
});

describe('script connector: the device simulator', () => {
  let env: DeviceTestEnv;
  let conn: Connector;
  let n = 0;
  const name = () => `stint-dev-${++n}`;

  before(async () => {
    env = await createDeviceTestEnv();
    conn = env.newConnector();
  });
  after(async () => {
    await conn?.close();
    await env?.teardown();
  });

  it('reports an unreachable device as retryable, without secrets', async () => {
    const dead = env.newConnector({ settings: env.settings({ env: { DEVICE_HOST: '127.0.0.1', DEVICE_PORT: String(await freePort()) } }) });
    const secret = `SECRET${testSecret()}`;
    const err = await rejectsTarget(dead.createAccount({ account: 'acct_x', secret, grants: [], expiresAt: inAnHour() }));
    assert.equal(err.retryable, true, err.message);
    assert.match(err.message, /createAccount of account "acct_x" failed: .*device unreachable \(ECONNREFUSED\)/);
    assertClean(err, secret, env.device.admin.secret);
    for (const op of [() => dead.checkHealth(), () => dead.removeAccount({ account: 'acct_x' }), () => dead.listManaged()]) {
      assert.equal((await rejectsTarget(op())).retryable, true);
    }
  });

  it('reports a refused admin credential as non-retryable, without the secret', async () => {
    const wrong = `WRONG${testSecret()}`;
    const err = await rejectsTarget(env.newConnector({ adminSecret: wrong }).checkHealth());
    assert.equal(err.retryable, false);
    assert.match(err.message, /refused the admin credential/);
    assertClean(err, wrong);
  });

  it('the device itself refuses an expired account, also on an open session', async () => {
    // The account must be created, logged in and read from before it expires.
    // Creating it runs a node process per call, slow on a busy machine: when
    // the expiry came first (refused, as it should be, but the open session
    // was not shown yet), the test asks again with twice the time.
    for (let window = 6000; ; window *= 2) {
      assert.ok(window <= 400_000, 'the account never got to be used before its expiry, even with 400 s');
      const account = name();
      const secret = testSecret();
      const expiresAt = Date.now() + window;
      await conn.createAccount({ account, secret, grants: ['viewer'], expiresAt: new Date(expiresAt) });
      const s = await DeviceClient.login(env.device.port, account, secret).catch(() => null);
      try {
        const read = s ? await s.call({ op: 'read', tag: 'temperature' }) : null;
        if (!read?.ok) {
          assert.ok(Date.now() >= expiresAt, `refused before its expiry: ${read?.error ?? 'login refused'}`);
          continue;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 200));
        assert.equal((await s!.call({ op: 'read', tag: 'temperature' })).ok, false);
        await assert.rejects(DeviceClient.login(env.device.port, account, secret));
        return;
      } finally {
        s?.close();
        await conn.removeAccount({ account });
      }
    }
  });

  it('with a sessions command configured, removal still reports the sessions it ended', async () => {
    const cmd = [process.execPath, fileURLToPath(new URL('../../../examples/device-simulator/device-admin.mjs', import.meta.url))];
    const base = env.settings();
    const withSessions = env.newConnector({ settings: { ...base, commands: { ...(base.commands as object), sessions: cmd } } });
    const account = name();
    const secret = testSecret();
    await withSessions.createAccount({ account, secret, grants: ['viewer'], expiresAt: inAnHour() });
    const s = await DeviceClient.login(env.device.port, account, secret);
    try {
      const res = await withSessions.removeAccount({ account });
      assert.equal(res.existed, true);
      assert.equal(res.terminatedSessions, 1);
      assert.equal(
        await s.call({ op: 'ping' }).then(
          (r) => r.ok,
          () => false,
        ),
        false,
      );
    } finally {
      s.close();
    }
  });

  it('measures create and remove latency', async (t) => {
    const runs = 20;
    const create: number[] = [];
    const remove: number[] = [];
    for (let i = 0; i < runs; i++) {
      const account = name();
      let s = performance.now();
      await conn.createAccount({ account, secret: testSecret(), grants: ['viewer'], expiresAt: inAnHour() });
      create.push(performance.now() - s);
      s = performance.now();
      await conn.removeAccount({ account });
      remove.push(performance.now() - s);
    }
    const stat = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, p95 ${s[Math.floor(s.length * 0.95)]!.toFixed(1)} ms`;
    };
    console.log(`script connector (device simulator, describe pre-check + node script): createAccount (${runs} runs): ${stat(create)}`);
    console.log(`script connector (device simulator, describe pre-check + node script): removeAccount (${runs} runs): ${stat(remove)}`);
    t.diagnostic(`createAccount ${stat(create)}; removeAccount ${stat(remove)}`);
  });
});
