// The scp part of bench/gateways.ts: a real sshd (src/testing/servers/ssh.ts),
// the ssh connector's test environment (private marker group, UID block, home
// base, a person's own account), a broker (createApp) with an ssh target and
// an auto-approved profile, and the SSH gateway constructed directly as
// src/gateways/ssh/gateway.int.test.ts does (it is not wired into the broker
// yet). The OpenSSH clients use temp keys and a temp known_hosts holding the
// two host keys (sshd's checked against its pinned fingerprint), so nothing
// prompts and ~/.ssh is never read or written.
//
// Needs root: the ssh connector makes real (test-only) Unix accounts here.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import pino from 'pino';
import ssh2 from 'ssh2';
import { createApp, type App } from '../src/app.js';
import { fingerprintOf, privateKeyFromSecret } from '../src/connectors/ssh/keys.js';
import { createSshTestEnv, type SshTestEnv } from '../src/connectors/ssh/testing/ssh-test-env.js';
import { createSshGateway, type SshGateway } from '../src/gateways/ssh/index.js';
import { createLogger } from '../src/log.js';
import { startSshTestServer, type SshTestServer } from '../src/testing/servers/ssh.js';
import { run, selfCpuMs, type RunResult } from './gateway-env.js';
import { countProblems, masterKey, progress, sleep } from './lib.js';

export interface ScpEndpoint {
  name: string;
  login: string;
  port: number;
  keyFile: string;
  /** Where `scp … :bench-up.bin` lands (null: the ephemeral home, gone with the account). */
  uploadPath: string | null;
}

export interface SshBench {
  direct: ScpEndpoint;
  gateway: ScpEndpoint;
  /** A file both accounts can read, for downloads. */
  remoteSource: string;
  clientArgs(ep: ScpEndpoint, verbose?: boolean): string[];
  /** Waits until the gateway has no live session and the session's account is gone. */
  settle(): Promise<void>;
  close(): Promise<{ warnings: number; errors: number; firstProblem: string | null }>;
}

const PROFILE = 'host-scp';

/** `onClose` receives the teardown at once, so an interrupt during the (slow) set-up can still run it. */
export async function startSshBench(dir: string, sourceFile: string, onClose: (close: () => Promise<unknown>) => void): Promise<SshBench> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let own: SshTestServer | null = null;
  let env: SshTestEnv | null = null;
  let app: App | null = null;
  let gateway: SshGateway | null = null;
  const logFile = join(dir, 'broker.log');
  const dest = pino.destination({ dest: logFile, sync: false, mkdir: true });
  const close = async () => {
    // The test sshd is unref'd: without a handle of our own, waiting for its exit would let the process end here.
    const hold = setInterval(() => {}, 1000);
    try {
      await gateway?.close().catch(() => {});
      // An interrupt can land while an account is being made or removed: let that finish (bounded),
      // so no account appears after the sweep below.
      if (app) await waitForIdleGrants(app, 20_000).catch(() => {});
      await app?.close().catch(() => {});
      // Also removes the broker's leftover accounts (this env's marker group and UID block only).
      await env?.teardown().catch(() => {});
      await own?.stop().catch(() => {});
      dest.flushSync();
      dest.end();
      return countProblems(logFile);
    } finally {
      clearInterval(hold);
    }
  };
  let closing: Promise<ReturnType<typeof countProblems>> | null = null;
  const closeOnce = () => (closing ??= close());
  onClose(closeOnce);
  try {
    progress('ssh: starting sshd and the ssh connector test environment');
    own = await startSshTestServer();
    // createSshTestEnv reads the server from these variables.
    Object.assign(process.env, own.env);
    env = await createSshTestEnv();
    progress(`ssh: sshd on 127.0.0.1:${own.info.port} (operator ${own.info.adminUser}), test accounts st_*_${env.suffix} in ${env.dir}`);
    await writeFile(join(dir, 'operator.key'), env.server.adminKey, { mode: 0o600 });
    await writeFile(
      join(dir, 'stint.yaml'),
      `# written by bench/gateway-ssh.ts
targets:
${env.targetYaml(join(dir, 'operator.key'))}profiles:
  - { name: ${PROFILE}, target: host, mode: ephemeral-account, grants: ["group:${env.group}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["${PROFILE}"], approval: auto }
users:
  - { name: alice, groups: [] }
`,
    );
    app = await createApp({
      configPath: join(dir, 'stint.yaml'),
      dataDir: join(dir, 'data'),
      workerMaxSleepMs: 200,
      env: { STINT_MASTER_KEY: masterKey },
      logger: createLogger({ level: 'info', destination: dest }),
    });
    const a = app;
    const hostKey = ssh2.utils.generateKeyPairSync('ed25519');
    const aliceKey = ssh2.utils.generateKeyPairSync('ed25519');
    gateway = createSshGateway({
      requests: a.requests,
      grants: a.grants,
      catalog: () => a.catalog,
      store: a.store,
      clock: { now: () => Date.now() },
      log: {
        info() {},
        warn: (o, m) => progress(`ssh gateway: ${m} ${JSON.stringify(o)}`),
        error: (o, m) => progress(`ssh gateway: ${m} ${JSON.stringify(o)}`),
        debug() {},
      },
      hostKey: hostKey.private,
      authorizedKeys: (u) => (u === 'alice' ? [aliceKey.public] : []),
      listen: { host: '127.0.0.1', port: 0 },
      sessionDir: join(dir, 'data', 'sessions'),
    });
    const gw = gateway;
    const gwPort = (await gw.listen()).port;

    // Keys and known_hosts for the OpenSSH clients.
    const aliceKeyFile = join(dir, 'alice_key');
    await writeFile(aliceKeyFile, aliceKey.private, { mode: 0o600 });
    const ownKeyFile = join(dir, 'own_key');
    await writeFile(ownKeyFile, privateKeyFromSecret(env.own.secret), { mode: 0o600 });
    const scan = await run('ssh-keyscan', ['-t', 'ed25519', '-p', String(env.server.port), env.server.host], { timeoutMs: 15_000 });
    const sshdLine = scan.stdout.split('\n').find((l) => l.includes(' ssh-ed25519 '));
    if (!sshdLine || fingerprintOf(Buffer.from(sshdLine.split(' ')[2]!, 'base64')) !== env.server.hostKeySha256) {
      throw new Error(`ssh-keyscan did not return the test sshd's pinned host key (${env.server.hostKeySha256}): ${scan.stderr.trim()}`);
    }
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${sshdLine.trim()}\n[127.0.0.1]:${gwPort} ${hostKey.public.trim()}\n`, { mode: 0o600 });

    // The download source: readable by the own account and by the ephemeral ones.
    const remoteSource = join(env.dir, 'bench-src.bin');
    await copyFile(sourceFile, remoteSource);
    await chmod(remoteSource, 0o644);

    const ownHome = join(String(env.settings().homeBase), env.own.user);
    const clientArgs = (ep: ScpEndpoint, verbose = false) => [
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'IdentityAgent=none',
      '-o',
      'ConnectTimeout=30',
      '-o',
      `LogLevel=${verbose ? 'DEBUG1' : 'ERROR'}`,
      '-i',
      ep.keyFile,
    ];
    return {
      direct: { name: 'direct to sshd', login: env.own.user, port: env.server.port, keyFile: ownKeyFile, uploadPath: join(ownHome, 'bench-up.bin') },
      gateway: { name: 'through the Stint SSH gateway', login: `alice+${PROFILE}`, port: gwPort, keyFile: aliceKeyFile, uploadPath: null },
      remoteSource,
      clientArgs,
      async settle() {
        for (let i = 0; i < 600 && gw.liveCount() > 0; i++) await sleep(50);
        await waitForIdleGrants(a, 30_000);
      },
      close: closeOnce,
    };
  } catch (err) {
    await closeOnce();
    throw err;
  }
}

/** Until alice has no grant being made, active or being removed (or `ms` passed). */
async function waitForIdleGrants(app: App, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const busy = await app.store.listGrants({ user: 'alice', statuses: ['provisioning', 'active', 'revoking'] });
    if (busy.length === 0) return;
    await sleep(50);
  }
}

export async function randomFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path, { mode: 0o600 });
  for (let left = bytes; left > 0; left -= 1 << 20) {
    if (!out.write(randomBytes(Math.min(left, 1 << 20)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface Transfer {
  ok: boolean;
  ms: number;
  /** CPU time of this process (the SSH gateway and its broker) during the transfer, ms. */
  cpuMs: number;
  error: string | null;
}

/**
 * One timed `scp` (the real OpenSSH client) of `local` up to the endpoint's
 * home or of `bench.remoteSource` down to `local`; `legacy` is `scp -O` (the
 * scp protocol over exec) instead of the default SFTP. The wall time includes
 * the SSH handshake (and, through the gateway, the account's creation).
 */
export async function scp(
  bench: SshBench,
  ep: ScpEndpoint,
  o: { direction: 'up' | 'down'; legacy: boolean; local: string; bytes: number; expectSha: string },
): Promise<Transfer> {
  const args = [...bench.clientArgs(ep), '-q', '-P', String(ep.port), ...(o.legacy ? ['-O'] : [])];
  const remote = `${ep.login}@127.0.0.1:${o.direction === 'up' ? 'bench-up.bin' : bench.remoteSource}`;
  const cpu0 = selfCpuMs();
  const r: RunResult = await run('scp', o.direction === 'up' ? [...args, o.local, remote] : [...args, remote, o.local], {
    env: clientEnv(),
    timeoutMs: 600_000,
  });
  const cpuMs = selfCpuMs() - cpu0;
  let error = r.code === 0 ? null : r.stderr.trim().slice(0, 300) || `scp exited ${r.code}`;
  if (!error && o.direction === 'down') {
    const st = await stat(o.local).catch(() => null);
    if (!st || st.size !== o.bytes) error = `downloaded ${st?.size ?? 0} bytes, expected ${o.bytes}`;
    else if ((await sha256File(o.local)) !== o.expectSha) error = 'downloaded file differs from the source';
    await rm(o.local, { force: true });
  }
  if (!error && o.direction === 'up' && ep.uploadPath) {
    const st = await stat(ep.uploadPath).catch(() => null);
    if (!st || st.size !== o.bytes) error = `uploaded ${st?.size ?? 0} bytes, expected ${o.bytes}`;
  }
  if (ep.uploadPath) await rm(ep.uploadPath, { force: true });
  return { ok: error === null, ms: r.ms, cpuMs, error };
}

/** `ssh … true`: the handshake (and, through the gateway, the account) without a transfer. */
export async function sshTrue(bench: SshBench, ep: ScpEndpoint): Promise<Transfer> {
  const cpu0 = selfCpuMs();
  const r = await run('ssh', [...bench.clientArgs(ep), '-T', '-p', String(ep.port), `${ep.login}@127.0.0.1`, 'true'], { env: clientEnv(), timeoutMs: 120_000 });
  return { ok: r.code === 0, ms: r.ms, cpuMs: selfCpuMs() - cpu0, error: r.code === 0 ? null : r.stderr.trim().slice(0, 300) };
}

/** The cipher and MAC OpenSSH negotiated with the endpoint (from `ssh -v`). */
export async function negotiated(bench: SshBench, ep: ScpEndpoint): Promise<string> {
  const r = await run('ssh', [...bench.clientArgs(ep, true), '-T', '-p', String(ep.port), `${ep.login}@127.0.0.1`, 'true'], {
    env: clientEnv(),
    timeoutMs: 120_000,
  });
  const m = /kex: client->server cipher: (\S+) MAC: (\S+)/.exec(r.stderr);
  return m ? (m[2] === '<implicit>' ? m[1]! : `${m[1]} + ${m[2]}`) : 'unknown';
}

/** The clients run with a HOME of their own so nothing reads or writes ~/.ssh. */
let home: string | null = null;
export function setClientHome(dir: string): void {
  home = dir;
}
function clientEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home ?? '/nonexistent' };
}
