// Test fixture for the ssh connector: a private marker group, UID block, home
// base and state directory on the test sshd's machine (this one), a group and
// files that prove access, and a person's own account.
//
// THIS MACHINE'S OWN ACCOUNTS ARE NEVER TOUCHED: every account or group made
// here is named `st_*` (except the contract suite's `admin` bystander, made
// only when no `admin` exists) and has a UID in 61000-61999; cleanup removes
// only names it created whose UID is still the one it gave them, plus the
// `stint_*` accounts a broker made through this env's target (this env's
// marker group and UID block), and runs from `teardown` and from a process
// 'exit' handler.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { randomId } from '../../../core/ids.js';
import { testSshServer, type SshTestServerInfo } from '../../../testing/servers/ssh.js';
import type { Connector } from '../../contract.js';
import type { ContractHarness, ContractLogin, ContractSession } from '../../testing/contract-suite.js';
import { authorizedKeyFor, fingerprintOf, privateKeyFromSecret } from '../keys.js';
import { createSshConnector } from '../module.js';

const TEST_UIDS = [61000, 61899] as const;
const run = (file: string, args: string[]) => execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const tryRun = (file: string, args: string[]) => {
  try {
    return run(file, args);
  } catch {
    return null;
  }
};
// Envs of one process take different 100-UID blocks.
let nextBlock = Math.floor(Math.random() * 9);
export const testSecret = () => `T${randomBytes(24).toString('base64url')}`;

export interface SshTestEnv {
  server: SshTestServerInfo;
  suffix: string;
  dir: string;
  marker: string;
  group: string;
  uidMin: number;
  uidMax: number;
  /** Helper UIDs for own/unmanaged accounts (outside the connector's range, inside the block). */
  files: { groupOk: string; sudoOnly: string; forbidden: string };
  allowed: string[];
  own: { user: string; secret: string };
  settings(overrides?: Record<string, unknown>): Record<string, unknown>;
  /** This env's server as a `targets:` item of a broker config (target `host`), its operator key read from `keyFile`. */
  targetYaml(keyFile: string): string;
  newConnector(overrides?: Record<string, unknown>, admin?: { user?: string; key?: string }): Connector;
  /** Logs in over SSH with the key a secret stands for; throws when refused. */
  ssh(account: string, secret: string): Promise<ssh2.Client>;
  sshWithKey(account: string, privateKey: string): Promise<ssh2.Client>;
  exec(c: ssh2.Client, command: string): Promise<{ code: number; stdout: string }>;
  /** Creates an unmarked account (UID in the block, primary group `users`). */
  createUnmanaged(name: string, opts?: { uid?: number; gid?: number | string }): Promise<number>;
  uidOf(name: string): number | null;
  teardown(): Promise<void>;
}

/** An env on the suite's shared sshd, or on `server` (one a test started, e.g. with an unsafe config). */
export async function createSshTestEnv(onServer?: SshTestServerInfo): Promise<SshTestEnv> {
  const server = onServer ?? (await testSshServer());
  const suffix = randomId(5);
  const dir = mkdtempSync(join(tmpdir(), 'stint-ssh-t-'));
  chmodSync(dir, 0o755);
  // A 100-UID block per env: 80 for the connector, 20 for helper accounts.
  const base = TEST_UIDS[0] + 100 * (nextBlock++ % 9);
  const uidMin = base;
  const uidMax = base + 79;
  let nextHelper = base + 80;
  const marker = `st_mk_${suffix}`;
  // The locked account checkBypass makes in the marker group (a system UID, so not in the block).
  const probe = `st_pr_${suffix}`;
  const group = `st_g_${suffix}`;
  const createdUsers = new Map<string, number>();
  const createdGroups: string[] = [];
  const connectors: Connector[] = [];
  const clients = new Set<ssh2.Client>();

  const uidOf = (name: string): number | null => {
    const line = tryRun('getent', ['passwd', name]);
    return line ? Number(line.split(':')[2]) : null;
  };
  const gidOf = (name: string): number | null => {
    const line = tryRun('getent', ['group', name]);
    return line ? Number(line.split(':')[2]) : null;
  };

  /** Removes one account this env is responsible for, and what a connector may have left of it. */
  const purge = (name: string, uid: number) => {
    const made = (name.startsWith('st_') || name === 'admin') && uid >= TEST_UIDS[0] && uid <= 61999;
    // An ephemeral account a broker made through this env's target (`stint_<user>_…`), in this env's own UID block.
    const brokerMade = name.startsWith('stint_') && uid >= uidMin && uid <= uidMax;
    if (!made && !brokerMade) return;
    if (uidOf(name) !== uid) return;
    tryRun('pkill', ['-KILL', '-u', String(uid)]);
    for (const f of [`stint-eph-${name}`, `.stint-eph-${name}.new`, `stint-own-${name}`, `.stint-own-${name}.new`])
      rmSync(`/etc/sudoers.d/${f}`, { force: true });
    rmSync(join(server.keysDir, name), { force: true });
    tryRun('crontab', ['-r', '-u', name]);
    const jobs = (tryRun('atq', []) ?? '')
      .split('\n')
      .filter((l) => l.trim().split(/\s+/).at(-1) === name)
      .map((l) => l.split(/\s+/)[0]!);
    if (jobs.length) tryRun('atrm', jobs);
    tryRun('userdel', ['-f', name]);
    rmSync(`/var/mail/${name}`, { force: true });
  };

  const cleanup = () => {
    // Accounts a connector made in this env's block with this env's marker.
    const markerGid = gidOf(marker);
    const probeLine = tryRun('getent', ['passwd', probe]);
    if (markerGid !== null && probeLine && Number(probeLine.split(':')[3]) === markerGid) tryRun('userdel', [probe]);
    if (markerGid !== null) {
      for (const line of (tryRun('getent', ['passwd']) ?? '').split('\n')) {
        const f = line.split(':');
        if (f.length === 7 && Number(f[3]) === markerGid) purge(f[0]!, Number(f[2]));
      }
    }
    for (const [name, uid] of createdUsers) purge(name, uid);
    createdUsers.clear();
    // The connector creates the marker group on first use.
    if (markerGid !== null) tryRun('groupdel', [marker]);
    for (const g of createdGroups.splice(0)) if (g.startsWith('st_')) tryRun('groupdel', [g]);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);

  const addGroup = (name: string) => {
    run('groupadd', ['-r', name]);
    createdGroups.push(name);
  };

  async function createUnmanaged(name: string, opts: { uid?: number; gid?: number | string } = {}): Promise<number> {
    if (!(name.startsWith('st_') || name === 'admin')) throw new Error(`test accounts must be named st_*: ${name}`);
    if (uidOf(name) !== null) throw new Error(`${name} already exists on this machine; not touching it`);
    for (let attempt = 0; ; attempt++) {
      const uid = opts.uid ?? nextHelper++;
      if (uid > base + 99 && opts.uid === undefined) throw new Error('out of helper UIDs');
      if (uidOf(String(uid)) !== null && opts.uid === undefined) continue;
      try {
        run('useradd', [
          '-u',
          String(uid),
          '-g',
          String(opts.gid ?? 'users'),
          '-N',
          '-l',
          '-M',
          '-d',
          '/nonexistent',
          '-s',
          '/usr/sbin/nologin',
          '-p',
          '*',
          name,
        ]);
        createdUsers.set(name, uid);
        return uid;
      } catch (e) {
        if (attempt > 5 || opts.uid !== undefined) throw e;
      }
    }
  }

  addGroup(group);
  const files = { groupOk: join(dir, 'group-ok'), sudoOnly: join(dir, 'sudo-only'), forbidden: join(dir, 'forbidden') };
  writeFileSync(files.groupOk, 'group-ok\n', { mode: 0o640 });
  run('chgrp', [group, files.groupOk]);
  writeFileSync(files.sudoOnly, 'sudo-ok\n', { mode: 0o600 });
  writeFileSync(files.forbidden, 'forbidden\n', { mode: 0o600 });
  mkdirSync(join(dir, 'home'), { mode: 0o755 });

  // The person's own account: key login, no Stint marker.
  const own = { user: `st_own_${suffix}`, secret: testSecret() };
  const ownHome = join(dir, 'home', own.user);
  const ownUid = await createUnmanaged(own.user);
  run('usermod', ['-s', '/bin/sh', '-d', ownHome, own.user]);
  mkdirSync(join(ownHome, '.ssh'), { recursive: true, mode: 0o700 });
  chmodSync(ownHome, 0o700);
  writeFileSync(join(ownHome, '.ssh', 'authorized_keys'), `${authorizedKeyFor(own.secret) as string}\n`, { mode: 0o600 });
  run('chown', ['-R', `${ownUid}:users`, ownHome]);

  const settings = (o: Record<string, unknown> = {}) => ({
    host: server.host,
    port: server.port,
    hostKeySha256: server.hostKeySha256,
    uidMin,
    uidMax,
    markerGroup: marker,
    homeBase: join(dir, 'home'),
    shell: '/bin/sh',
    stateDir: join(dir, 'state'),
    reclaimScanPaths: [dir],
    authorizedKeysDir: server.keysDir,
    sshdConfig: server.sshdConfig,
    probeAccount: probe,
    connectTimeoutMs: 5000,
    ...o,
  });

  const env: SshTestEnv = {
    server,
    suffix,
    dir,
    marker,
    group,
    uidMin,
    uidMax,
    files,
    allowed: [`group:${group}`, `sudo:/usr/bin/cat ${files.sudoOnly}`],
    own,
    settings,
    targetYaml(keyFile) {
      const t = settings();
      return `  - name: host
    kind: ssh
    host: ${t.host}
    port: ${t.port}
    hostKeySha256: "${t.hostKeySha256}"
    uidMin: ${t.uidMin}
    uidMax: ${t.uidMax}
    markerGroup: ${t.markerGroup}
    homeBase: ${t.homeBase}
    shell: ${t.shell}
    stateDir: ${t.stateDir}
    reclaimScanPaths: [${dir}]
    authorizedKeysDir: ${t.authorizedKeysDir}
    sshdConfig: ${t.sshdConfig}
    probeAccount: ${t.probeAccount}
    admin: { user: ${server.adminUser}, passwordFile: ${keyFile} }
`;
    },
    newConnector(o = {}, admin = {}) {
      const c = createSshConnector({
        target: `ssh-test-${suffix}`,
        settings: settings(o),
        adminUser: admin.user ?? server.adminUser,
        adminSecret: admin.key ?? server.adminKey,
      });
      connectors.push(c);
      return c;
    },
    ssh(account, secret) {
      return env.sshWithKey(account, privateKeyFromSecret(secret));
    },
    sshWithKey(account, privateKey) {
      return new Promise((resolve, reject) => {
        const c = new ssh2.Client();
        c.on('ready', () => {
          clients.add(c);
          resolve(c);
        });
        c.on('error', reject);
        c.connect({
          host: server.host,
          port: server.port,
          username: account,
          privateKey,
          readyTimeout: 5000,
          hostVerifier: (key: Buffer) => fingerprintOf(key) === server.hostKeySha256,
        });
      });
    },
    exec(c, command) {
      return new Promise((resolve, reject) => {
        c.exec(command, (err, stream) => {
          if (err) return reject(err);
          let stdout = '';
          stream.on('data', (d: Buffer) => (stdout += d.toString()));
          stream.stderr.on('data', () => {});
          stream.on('close', (code?: number) => (typeof code === 'number' ? resolve({ code, stdout }) : reject(new Error('connection lost'))));
        });
      });
    },
    createUnmanaged,
    uidOf,
    async teardown() {
      for (const c of clients) c.end();
      for (const c of connectors) await c.close().catch(() => {});
      cleanup();
      process.removeListener('exit', cleanup);
    },
  };
  return env;
}

function sshLogin(env: SshTestEnv, c: ssh2.Client): ContractLogin {
  const must = async (command: string) => {
    const r = await env.exec(c, command);
    if (r.code !== 0) throw new Error(`${command} exited ${r.code}`);
  };
  return {
    // Both halves of the profile: the supplementary group and the sudo rule.
    tryAllowed: () => must(`cat ${env.files.groupOk} && sudo -n /usr/bin/cat ${env.files.sudoOnly}`),
    tryForbidden: () => must(`cat ${env.files.forbidden} || sudo -n /usr/bin/cat ${env.files.forbidden}`),
    close: async () => void c.end(),
  };
}

function sshSession(env: SshTestEnv, c: ssh2.Client): ContractSession {
  // A long-running command keeps a real session (and processes) on the host.
  c.exec('sleep 1000', () => {});
  c.on('error', () => {});
  return {
    isAlive: () =>
      Promise.race([
        env.exec(c, 'true').then(
          (r) => r.code === 0,
          () => false,
        ),
        new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref()),
      ]),
    close: async () => void c.end(),
  };
}

export function sshHarness(env: SshTestEnv): ContractHarness {
  let n = 0;
  return {
    connector: env.newConnector(),
    grants: { allowed: env.allowed, nonexistent: [`group:st_nosuch_${env.suffix}`] },
    login: async (account, secret) => sshLogin(env, await env.ssh(account, secret)),
    ownAccount: env.own.user,
    ownLogin: async () => sshLogin(env, await env.ssh(env.own.user, env.own.secret)),
    openSession: async (account, secret) => sshSession(env, await env.ssh(account, secret)),
    openOwnSession: async () => sshSession(env, await env.ssh(env.own.user, env.own.secret)),
    createUnmanaged: async (name) => void (await env.createUnmanaged(name)),
    supportsNativeExpiry: true,
    // Reported expiry is the precise one kept in GECOS (Linux's own is day-granular).
    expiryPrecisionMs: 0,
    accountName: () => `st_${env.suffix}_${++n}`,
    // Linux user names cannot hold quotes or spaces: the suite's hostile names
    // are refused before any command (tested separately); these stress what
    // is valid instead.
    hostileNames: () => [`st_${env.suffix}-x-`, `st_${env.suffix}__-_`, `st_${env.suffix}_${'z'.repeat(32)}`.slice(0, 32)],
    teardown: () => env.teardown(),
  };
}
