// A real OpenSSH server for the ssh connector's tests: /usr/sbin/sshd (Debian
// package openssh-server) on 127.0.0.1 and a free port, with its own config,
// host key, pid file and log in a temp directory, plus a test-only operator
// account (`stintop_<random>`, UID 61900-61999) whose sudo rights are exactly
// the documented ones (src/connectors/ssh/operator-sudoers.ts).
//
// It creates Unix accounts on THIS machine, so it needs root, and it only ever
// removes what it created itself (by name and UID), also when the process
// exits early. sshd admits only `stintop_*`, `st_*` and `stint_*` users.
//
// Configured the documented way (src/connectors/ssh/README.md, "The host's
// sshd"): accounts in a marker group (`st_mk_*` here, one per test env) take
// their keys only from a root-owned directory (`/etc/ssh/stint-test-<random>`:
// sshd's StrictModes refuses a key path under the world-writable /tmp), never
// from their home, and may not use passwords, tunnels or remote forwarding.
// `{ stintAccounts: 'unsafe' }` leaves that block out, reads keys from the
// home as well as that directory and allows passwords, for the tests of the
// check that reports such a host.
//
// `npm test` starts one server (scripts/test-servers.ts) and exports the
// STINT_TEST_SSH_* variables; a test file run on its own starts one itself.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomId } from '../../core/ids.js';
import { freePort } from '../../embedded/free-port.js';
import { fingerprintOf } from '../../connectors/ssh/keys.js';
import { operatorSudoers } from '../../connectors/ssh/operator-sudoers.js';
import { testKeyPair } from '../ssh-keys.js';

export interface SshTestServerInfo {
  host: string;
  port: number;
  hostKeySha256: string;
  adminUser: string;
  adminKey: string;
  /** Root-owned directory sshd reads the marker group's keys from (`AuthorizedKeysFile <dir>/%u`). */
  keysDir: string;
  /** This sshd's config file (for `sshd -T -f`). */
  sshdConfig: string;
}

export interface SshTestServerOptions {
  /**
   * `safe` (default): the documented Match block for Stint's accounts; `unsafe`: none, keys from the home
   * and the keys directory, and passwords allowed; `unprepared`: an sshd never set up for Stint (keys from the home only).
   */
  stintAccounts?: 'safe' | 'unsafe' | 'unprepared';
  /** More global sshd_config lines (e.g. `KexAlgorithms …`). */
  extraConfig?: string[];
}

/** The documented sshd block for Stint's ephemeral accounts (README "The host's sshd"); `groups` is a Match Group pattern list. */
export function stintMatchBlock(groups: string, keysDir: string): string[] {
  return [
    `Match Group ${groups}`,
    `    AuthorizedKeysFile ${keysDir}/%u`,
    '    AuthorizedKeysCommand none',
    '    PasswordAuthentication no',
    '    KbdInteractiveAuthentication no',
    '    HostbasedAuthentication no',
    '    AllowTcpForwarding local',
    '    AllowStreamLocalForwarding no',
    '    AllowAgentForwarding no',
    '    PermitTunnel no',
    '    X11Forwarding no',
    '    PermitUserRC no',
  ];
}

export const SSH_TEST_ENV = {
  host: 'STINT_TEST_SSH_HOST',
  port: 'STINT_TEST_SSH_PORT',
  hostKey: 'STINT_TEST_SSH_HOST_KEY_SHA256',
  adminUser: 'STINT_TEST_SSH_ADMIN_USER',
  adminKeyFile: 'STINT_TEST_SSH_ADMIN_KEY_FILE',
  keysDir: 'STINT_TEST_SSH_KEYS_DIR',
  sshdConfig: 'STINT_TEST_SSH_CONFIG',
} as const;

/** Test-only UIDs for operator accounts. */
const OPERATOR_UIDS = [61900, 61999] as const;
const SSHD = '/usr/sbin/sshd';

const sh = (file: string, args: string[], input?: string) =>
  execFileSync(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }) }).toString();

function uidTaken(uid: number): boolean {
  try {
    sh('getent', ['passwd', String(uid)]);
    return true;
  } catch {
    return false;
  }
}

export interface SshTestServer {
  env: Record<string, string>;
  info: SshTestServerInfo;
  /** Stops sshd only (the accounts stay), for outage tests; `startSshd` brings it back on the same port. */
  stopSshd(): Promise<void>;
  startSshd(): Promise<void>;
  /** Stops sshd and removes the operator account, its sudoers file and the temp directory. */
  stop(): Promise<void>;
}

function requirements(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('the ssh test server needs root: it creates test-only Unix accounts and runs sshd');
  }
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: install the Debian package openssh-server`);
  if (!existsSync('/usr/bin/sudo') || !existsSync('/usr/sbin/visudo')) throw new Error('sudo not found: install the Debian package sudo');
}

async function waitForBanner(port: number, log: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: '127.0.0.1', port });
      sock.setTimeout(1000);
      sock.once('data', (d) => {
        sock.destroy();
        resolve(d.toString().startsWith('SSH-'));
      });
      sock.once('error', () => resolve(false));
      sock.once('timeout', () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-10).join('\n') : '';
      throw new Error(`sshd did not start on 127.0.0.1:${port}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startSshTestServer(opts: SshTestServerOptions = {}): Promise<SshTestServer> {
  requirements();
  const dir = mkdtempSync(join(tmpdir(), 'stint-sshd-'));
  chmodSync(dir, 0o755);
  const keysDir = `/etc/ssh/stint-test-${randomId(8)}`;
  const operator = `stintop_${randomId(6)}`;
  const sudoersFile = `/etc/sudoers.d/stint-test-${operator}`;
  let operatorUid: number | null = null;
  let child: ChildProcess | null = null;

  // Synchronous, so it also runs from a process 'exit' handler.
  const cleanup = () => {
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {}
    }
    rmSync(sudoersFile, { force: true });
    if (operatorUid !== null) {
      try {
        // Only the account this server created: same name, same UID.
        const line = sh('getent', ['passwd', operator]);
        if (line.split(':')[2] === String(operatorUid)) {
          try {
            sh('pkill', ['-KILL', '-u', String(operatorUid)]);
          } catch {}
          sh('userdel', [operator]);
        }
      } catch {}
      operatorUid = null;
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(keysDir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);

  try {
    const hostKey = join(dir, 'host_ed25519');
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stint-test-host', '-f', hostKey]);
    const hostKeySha256 = fingerprintOf(Buffer.from(readFileSync(`${hostKey}.pub`, 'utf8').split(' ')[1]!, 'base64'));

    const keys = testKeyPair(operator);
    const home = join(dir, 'operator');
    for (let attempt = 0; operatorUid === null; attempt++) {
      const uid = OPERATOR_UIDS[0] + Math.floor(Math.random() * (OPERATOR_UIDS[1] - OPERATOR_UIDS[0] + 1));
      if (uidTaken(uid)) continue;
      try {
        sh('useradd', [
          '-u',
          String(uid),
          '-g',
          'nogroup',
          '-N',
          '-l',
          '-m',
          '-d',
          home,
          '-s',
          '/bin/sh',
          '-p',
          '*',
          '-c',
          'stint ssh test operator',
          operator,
        ]);
        operatorUid = uid;
      } catch (e) {
        if (attempt > 20) throw e;
      }
    }
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    writeFileSync(join(home, '.ssh', 'authorized_keys'), `${keys.public}\n`, { mode: 0o600 });
    sh('chown', ['-R', `${operatorUid}:nogroup`, home]);
    const adminKeyFile = join(dir, 'operator_key');
    writeFileSync(adminKeyFile, keys.private, { mode: 0o600 });

    // Checked with visudo before it goes live, as the connector does.
    const staged = join(dir, 'sudoers');
    writeFileSync(staged, operatorSudoers(operator), { mode: 0o440 });
    sh('visudo', ['-c', '-q', '-f', staged]);
    sh('install', ['-m', '0440', '-o', 'root', '-g', 'root', staged, sudoersFile]);

    // sshd's privilege separation directory (Debian creates it at service start).
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
    mkdirSync(keysDir, { mode: 0o755 });
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    const log = join(dir, 'sshd.log');
    writeFileSync(
      config,
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'UsePAM no',
        `PasswordAuthentication ${opts.stintAccounts === 'unsafe' ? 'yes' : 'no'}`,
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        // Unsafe: the common half-done setup, Stint's directory added but the home's file still read.
        `AuthorizedKeysFile .ssh/authorized_keys${opts.stintAccounts === 'unsafe' ? ` ${keysDir}/%u` : ''}`,
        'StrictModes yes',
        'PermitRootLogin no',
        // Nothing but test accounts can log in here (stint_* are the broker's ephemeral accounts).
        'AllowUsers stintop_* st_* stint_*',
        // The SSH gateway relays SFTP to the target.
        'Subsystem sftp internal-sftp',
        'MaxSessions 32',
        'MaxStartups 100:30:200',
        'PrintMotd no',
        'LogLevel VERBOSE',
        ...(opts.extraConfig ?? []),
        // Last: a Match block runs to the end of the file.
        ...(opts.stintAccounts === 'unsafe' || opts.stintAccounts === 'unprepared' ? [] : stintMatchBlock('st_mk_*,stint-managed', keysDir)),
        '',
      ].join('\n'),
    );
    sh(SSHD, ['-t', '-f', config]);

    const startSshd = async () => {
      if (child && child.exitCode === null) return;
      const c = spawn(SSHD, ['-D', '-f', config, '-E', log], { stdio: 'ignore' });
      // A failed spawn shows as sshd never answering (waitForBanner); an 'error' nobody listens for would end the process.
      c.on('error', () => {});
      c.unref();
      child = c;
      await waitForBanner(port, log);
    };
    const stopSshd = async () => {
      const c = child;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        // Held while we wait: an unref'd child lets the event loop empty, and the test runner then
        // ends the file quietly in the middle of an after hook, skipping every test still to come.
        c.ref();
        c.kill('SIGTERM');
      });
    };
    await startSshd();

    const info: SshTestServerInfo = { host: '127.0.0.1', port, hostKeySha256, adminUser: operator, adminKey: keys.private, keysDir, sshdConfig: config };
    return {
      info,
      env: {
        [SSH_TEST_ENV.host]: info.host,
        [SSH_TEST_ENV.port]: String(port),
        [SSH_TEST_ENV.hostKey]: hostKeySha256,
        [SSH_TEST_ENV.adminUser]: operator,
        [SSH_TEST_ENV.adminKeyFile]: adminKeyFile,
        [SSH_TEST_ENV.keysDir]: keysDir,
        [SSH_TEST_ENV.sshdConfig]: config,
      },
      stopSshd,
      startSshd,
      async stop() {
        await stopSshd();
        cleanup();
        process.removeListener('exit', cleanup);
      },
    };
  } catch (e) {
    cleanup();
    process.removeListener('exit', cleanup);
    throw e;
  }
}

let own: Promise<SshTestServer> | null = null;

/** The suite's shared server (from STINT_TEST_SSH_*), or one this process starts once. */
export async function testSshServer(): Promise<SshTestServerInfo> {
  const port = process.env[SSH_TEST_ENV.port];
  if (port) {
    const need = (k: string) => {
      const v = process.env[k];
      if (!v) throw new Error(`${k} must be set when ${SSH_TEST_ENV.port} is`);
      return v;
    };
    return {
      host: need(SSH_TEST_ENV.host),
      port: Number(port),
      hostKeySha256: need(SSH_TEST_ENV.hostKey),
      adminUser: need(SSH_TEST_ENV.adminUser),
      adminKey: readFileSync(need(SSH_TEST_ENV.adminKeyFile), 'utf8'),
      keysDir: need(SSH_TEST_ENV.keysDir),
      sshdConfig: need(SSH_TEST_ENV.sshdConfig),
    };
  }
  own ??= startSshTestServer();
  return (await own).info;
}

// The server does not hold the event loop open (unref), so this runs when the
// tests are done.
process.on('beforeExit', () => {
  if (own) {
    const p = own;
    own = null;
    void p.then((s) => s.stop()).catch(() => {});
  }
});
