// A real Active Directory domain controller for tests: Samba's AD DC
// (Debian's samba + samba-ad-dc), provisioned in a temp dir of its own
// (`samba-tool domain provision`, DNS backend NONE, an empty smb.conf so the
// system one is never read), then run in the foreground (`samba -i -M single`)
// on 127.0.0.1. `npm test` starts one for the whole run (scripts/test-servers.ts)
// and exports STINT_TEST_AD_*; a test file run on its own starts one itself.
//
// Samba keeps LDAP on 389/636 (no option moves it) and winbind's socket in
// /run/samba/winbindd, so there is one DC per host; Kerberos, kpasswd and SMB
// get free ports. `old password allowed period = 0` so a reset password stops
// working at once (Samba's default keeps the old one for 60 minutes).
//
// Layout under DC=stint,DC=test (seeded as Administrator):
//   OU=Stint          ephemeral accounts (tests use one sub-OU each)
//   OU=Groups         groups Stint manages (tests add their own)
//   OU=People         own accounts
//   CN=stint-share-readers,OU=Groups   the only group that may read the SMB share `vault`

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile, access, appendFile } from 'node:fs/promises';
import { rmSync, constants } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { freePort } from '../../embedded/free-port.js';

const run = promisify(execFile);

export const AD_REALM = 'STINT.TEST';
export const AD_BASE_DN = 'DC=stint,DC=test';
export const AD_HOST = 'dc1.stint.test';

/** Environment variables the AD tests read. */
export const adEnvNames = {
  url: 'STINT_TEST_AD_URL',
  caFile: 'STINT_TEST_AD_CA_FILE',
  serverName: 'STINT_TEST_AD_SERVER_NAME',
  baseDN: 'STINT_TEST_AD_BASE_DN',
  realm: 'STINT_TEST_AD_REALM',
  adminUser: 'STINT_TEST_AD_ADMIN_USER',
  adminPassword: 'STINT_TEST_AD_ADMIN_PASSWORD',
  krb5Config: 'STINT_TEST_AD_KRB5_CONFIG',
  smbPort: 'STINT_TEST_AD_SMB_PORT',
  share: 'STINT_TEST_AD_SHARE',
  shareGroup: 'STINT_TEST_AD_SHARE_GROUP',
} as const;

export type AdTestServerInfo = { -readonly [K in keyof typeof adEnvNames]: string };

// Provisioning takes 6–13 s on an idle machine and several times that under load.
const PROVISION_TIMEOUT_MS = 600_000;
const START_TIMEOUT_MS = 300_000;

async function requireBinaries(): Promise<void> {
  for (const bin of ['/usr/sbin/samba', '/usr/bin/samba-tool', '/usr/bin/kinit', '/usr/bin/smbclient']) {
    try {
      await access(bin, constants.X_OK);
    } catch {
      throw new Error(
        `${bin} not found: install the Debian packages samba samba-ad-dc samba-ad-provision krb5-user smbclient ldap-utils winbind to run the AD tests`,
      );
    }
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Waits until LDAPS binds as Administrator (the DC is up and its TLS key made), then the KDC and SMB ports. */
async function waitUntilReady(info: AdTestServerInfo, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const ca = () => readFile(info.caFile);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`samba exited (${child.exitCode ?? child.signalCode}) while starting: ${output()}`);
    const ok = await (async () => {
      const kdc = Number(info.krb5Config ? (await readFile(info.krb5Config, 'utf8')).match(/127\.0\.0\.1:(\d+)/)?.[1] : 0);
      if (!(await portOpen(kdc)) || !(await portOpen(Number(info.smbPort)))) return false;
      const c = new Client({ url: info.url, connectTimeout: 5000, timeout: 10_000, tlsOptions: { ca: await ca(), servername: info.serverName } });
      try {
        await c.bind(info.adminUser, info.adminPassword);
        await c.search(info.baseDN, { scope: 'base', attributes: ['1.1'] });
        return true;
      } catch {
        return false;
      } finally {
        await c.unbind().catch(() => {});
      }
    })().catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`samba did not answer LDAPS within ${START_TIMEOUT_MS} ms: ${output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface AdTestServer {
  info: AdTestServerInfo;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Provisions and starts a private Samba AD DC; stopped and deleted on exit. */
export async function startSambaServer(): Promise<AdTestServer> {
  await requireBinaries();
  if (await portOpen(636))
    throw new Error('127.0.0.1:636 is taken (another Samba AD DC or LDAPS server): Samba cannot move its LDAP ports, so one DC per host');
  const dir = await mkdtemp(join(tmpdir(), 'stint-samba-'));
  // smbd checks the share path as the connecting user: the dir must be traversable.
  await chmod(dir, 0o711);
  let child: ChildProcess | null = null;
  const kill = (sig: NodeJS.Signals) => {
    // samba forks smbd and winbindd: signal the whole process group.
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    }
  };
  const cleanupOnExit = () => {
    kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanupOnExit);
  try {
    const adminPassword = `Aa1-${randomBytes(18).toString('base64url')}`;
    const conf = join(dir, 'etc', 'smb.conf');
    await writeFile(join(dir, 'empty.conf'), '');
    await run(
      'samba-tool',
      [
        'domain',
        'provision',
        '-s',
        join(dir, 'empty.conf'),
        `--realm=${AD_REALM}`,
        '--domain=STINT',
        '--server-role=dc',
        '--dns-backend=NONE',
        '--use-rfc2307',
        `--targetdir=${dir}`,
        `--adminpass=${adminPassword}`,
        '--host-name=dc1',
      ],
      { timeout: PROVISION_TIMEOUT_MS, maxBuffer: 16 << 20 },
    );
    const [kdcPort, kpasswdPort, smbPort] = [await freePort(), await freePort(), await freePort()];
    const share = join(dir, 'share');
    await mkdir(share, { mode: 0o755 });
    await writeFile(join(share, 'vault.txt'), 'readable by stint-share-readers only\n', { mode: 0o644 });
    await mkdir(join(dir, 'run'));
    await mkdir('/run/samba', { recursive: true });
    await appendFile(
      conf,
      `
[global]
	interfaces = 127.0.0.1
	bind interfaces only = yes
	server services = s3fs, ldap, kdc, winbindd
	krb5 port = ${kdcPort}
	kpasswd port = ${kpasswdPort}
	smb ports = ${smbPort}
	pid directory = ${join(dir, 'run')}
	old password allowed period = 0
	log level = 0

[vault]
	path = ${share}
	read only = yes
	valid users = @"STINT\\stint-share-readers"
`,
    );
    // A private Kerberos config: kinit must not read /etc/krb5.conf or look the KDC up in DNS.
    const krb5Config = join(dir, 'krb5.conf');
    await writeFile(
      krb5Config,
      `[libdefaults]\n\tdefault_realm = ${AD_REALM}\n\tdns_lookup_realm = false\n\tdns_lookup_kdc = false\n\trdns = false\n\tdns_canonicalize_hostname = false\n[realms]\n\t${AD_REALM} = {\n\t\tkdc = 127.0.0.1:${kdcPort}\n\t\tkpasswd_server = 127.0.0.1:${kpasswdPort}\n\t}\n[domain_realm]\n\t${AD_HOST} = ${AD_REALM}\n`,
    );

    let output = '';
    const c = spawn('samba', ['-i', '-M', 'single', '-s', conf], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [c.stdout, c.stderr]) s?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    c.on('error', (err) => (output = `${output}\n${err.message}`.slice(-4000)));
    child = c;
    const info: AdTestServerInfo = {
      url: 'ldaps://127.0.0.1:636',
      caFile: join(dir, 'private', 'tls', 'ca.pem'),
      serverName: AD_HOST,
      baseDN: AD_BASE_DN,
      realm: AD_REALM,
      adminUser: `Administrator@${AD_REALM}`,
      adminPassword,
      krb5Config,
      smbPort: String(smbPort),
      share: 'vault',
      shareGroup: `CN=stint-share-readers,OU=Groups,${AD_BASE_DN}`,
    };
    // The CA is written when samba first starts; wait for it as part of readiness.
    await waitUntilReady(info, c, () => output);
    c.unref();
    for (const s of [c.stdout, c.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    await seed(info);
    return {
      info,
      env: Object.fromEntries(Object.entries(adEnvNames).map(([k, name]) => [name, info[k as keyof AdTestServerInfo]])),
      async stop() {
        const p = child;
        if (p && p.exitCode === null && p.signalCode === null) {
          const exited = new Promise<void>((r) => p.once('exit', () => r()));
          p.ref();
          kill('SIGTERM');
          const timer = setTimeout(() => kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
          // Its forked children get the same signal; give them a moment to let go of the dir.
          kill('SIGKILL');
        }
        await rm(dir, { recursive: true, force: true });
        process.removeListener('exit', cleanupOnExit);
      },
    };
  } catch (err) {
    cleanupOnExit();
    process.removeListener('exit', cleanupOnExit);
    throw err;
  }
}

async function seed(info: AdTestServerInfo): Promise<void> {
  const c = new Client({ url: info.url, tlsOptions: { ca: await readFile(info.caFile), servername: info.serverName } });
  try {
    await c.bind(info.adminUser, info.adminPassword);
    for (const ou of ['Stint', 'Groups', 'People']) {
      await c.add(`OU=${ou},${info.baseDN}`, { objectClass: ['top', 'organizationalUnit'], ou });
    }
    // groupType: global security group.
    await c.add(info.shareGroup, {
      objectClass: ['top', 'group'],
      cn: 'stint-share-readers',
      sAMAccountName: 'stint-share-readers',
      groupType: String(0x80000002 | 0),
    });
  } finally {
    await c.unbind().catch(() => {});
  }
}

/** What scripts/test-servers.ts calls: one DC for the whole test run. */
export async function startSambaTestServer(): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  const s = await startSambaServer();
  return { env: s.env, stop: s.stop };
}

let own: Promise<AdTestServer> | null = null;

/** The shared DC from the environment, else one this process starts once. */
export async function testAdServer(): Promise<AdTestServerInfo> {
  if (process.env[adEnvNames.url]) {
    const out = {} as AdTestServerInfo;
    for (const [k, name] of Object.entries(adEnvNames)) {
      const v = process.env[name];
      if (!v) throw new Error(`${adEnvNames.url} is set but ${name} is not`);
      out[k as keyof AdTestServerInfo] = v;
    }
    return out;
  }
  own ??= startSambaServer();
  return (await own).info;
}

process.once('beforeExit', () => {
  void own?.then((s) => s.stop()).catch(() => {});
});
