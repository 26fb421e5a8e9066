// Real OpenStack Keystone servers for tests: Debian's `keystone` package
// served by uwsgi (packages uwsgi-core + uwsgi-plugin-python3), one worker and
// one thread (more threads break sqlite, more workers answer from stale
// state), sqlite in WAL mode, cheap password hashes (tests only). A template
// (db_sync, fernet_setup, credential_setup, bootstrap) is prepared once per
// process; each server runs from a copy of it. Two servers: `legacy` (default
// policy, a project-scoped admin, plain HTTP) and `strict` (enforce_scope +
// enforce_new_defaults, a system-scoped admin, HTTPS with a private CA).
// `npm test` starts both (scripts/test-servers.ts) and exports
// STINT_TEST_KEYSTONE_*; a test file run on its own starts them itself.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../embedded/free-port.js';

const run = promisify(execFile);
const START_TIMEOUT_MS = 120_000;
const PREPARE_TIMEOUT_MS = 600_000;
const WSGI = '/usr/bin/keystone-wsgi-public';

export type KeystonePolicyMode = 'legacy' | 'strict';

export interface KeystoneServerInfo {
  mode: KeystonePolicyMode;
  /** The identity v3 URL. */
  url: string;
  /** PEM file of the private CA (strict server, HTTPS); undefined for plain HTTP. */
  caFile?: string;
  /** The bootstrap admin (`admin` in Default, admin on project `admin` and on the system). */
  adminUser: string;
  adminPassword: string;
}

const envNames = (mode: KeystonePolicyMode) => {
  const p = mode === 'legacy' ? 'STINT_TEST_KEYSTONE' : 'STINT_TEST_KEYSTONE_STRICT';
  return { url: `${p}_URL`, caFile: `${p}_CA_FILE`, adminPassword: `${p}_ADMIN_PASSWORD` };
};

function conf(dir: string, mode: KeystonePolicyMode): string {
  const strict = mode === 'strict';
  return [
    '[DEFAULT]',
    'use_stderr = true',
    '[database]',
    `connection = sqlite:///${dir}/keystone.db`,
    '[fernet_tokens]',
    `key_repository = ${dir}/fernet-keys`,
    '[credential]',
    `key_repository = ${dir}/credential-keys`,
    // Tests only: cheap bcrypt rounds so every password check is not 100 ms of CPU.
    '[identity]',
    'password_hash_rounds = 4',
    '[cache]',
    'enabled = false',
    '[oslo_policy]',
    `enforce_scope = ${strict}`,
    `enforce_new_defaults = ${strict}`,
    `policy_file = ${dir}/policy.yaml`,
    '',
  ].join('\n');
}

/**
 * Description of a user Keystone refuses to update, as a read-only identity
 * backend (LDAP) does: an own-account grant's mark on it must fail cleanly.
 */
export const READ_ONLY_USER_DESCRIPTION = 'stint-test-read-only';

// The default rule (admin in both modes), except on users carrying that description.
const POLICY = `"identity:update_user": "rule:admin_required and not '${READ_ONLY_USER_DESCRIPTION}':%(target.user.description)s"\n`;

// Keystone leaves sqlite's foreign keys off outside its unit tests, so rows
// referring to a deleted application credential stay and collide with the next
// one's reused id; this does what ON DELETE CASCADE does on MySQL/PostgreSQL.
// WAL: without it a write waits 5 s for a reader and fails "database is locked".
const FIX_DB = `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode=WAL")
c.executescript("""
CREATE TRIGGER IF NOT EXISTS stint_app_cred_cascade AFTER DELETE ON application_credential
BEGIN
  DELETE FROM application_credential_role WHERE application_credential_id = OLD.internal_id;
  DELETE FROM application_credential_access_rule WHERE application_credential_id = OLD.internal_id;
END;
""")
if len(sys.argv) > 2:
    c.execute("UPDATE endpoint SET url = ?", (sys.argv[2],))
c.commit()
`;

async function manage(dir: string, ...args: string[]): Promise<void> {
  await run('keystone-manage', ['--config-file', join(dir, 'keystone.conf'), ...args], { timeout: PREPARE_TIMEOUT_MS, cwd: dir }).catch((err: unknown) => {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('keystone-manage not found: install the Debian packages `keystone python3-keystone uwsgi-core uwsgi-plugin-python3`');
    throw new Error(`keystone-manage ${args[0]} failed: ${String(e.stderr ?? e.message).slice(-2000)}`);
  });
}

let template: Promise<{ dir: string; adminPassword: string }> | null = null;

/** The prepared template, once per process: about 13 s on an idle machine, much longer under load. */
function prepareTemplate(): Promise<{ dir: string; adminPassword: string }> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stint-keystone-template-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const adminPassword = randomBytes(18).toString('base64url');
    const me = userInfo();
    await writeFile(join(dir, 'keystone.conf'), conf(dir, 'legacy'));
    await writeFile(join(dir, 'policy.yaml'), POLICY);
    await manage(dir, 'db_sync');
    await manage(dir, 'fernet_setup', '--keystone-user', String(me.username), '--keystone-group', String(me.gid));
    await manage(dir, 'credential_setup', '--keystone-user', String(me.username), '--keystone-group', String(me.gid));
    await manage(
      dir,
      'bootstrap',
      '--bootstrap-password',
      adminPassword,
      '--bootstrap-region-id',
      'RegionOne',
      '--bootstrap-public-url',
      'http://127.0.0.1:1/v3',
    );
    await run('python3', ['-c', FIX_DB, join(dir, 'keystone.db')]);
    return { dir, adminPassword };
  })();
  return template;
}

/** A private CA and a certificate for 127.0.0.1 signed by it (openssl). */
async function makeCertificates(dir: string): Promise<{ caFile: string; cert: string; key: string }> {
  const o = (...args: string[]) => run('openssl', args, { cwd: dir });
  await o(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Stint test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  await o(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  await writeFile(join(dir, 'san.ext'), 'subjectAltName = IP:127.0.0.1\n');
  await o(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'server.pem',
  );
  return { caFile: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

export interface KeystoneServer {
  info: KeystoneServerInfo;
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function waitReady(url: string, ca: string | undefined, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const https = await import('node:https');
  const http = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const caText = ca ? await readFile(ca, 'utf8') : undefined;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`uwsgi exited before Keystone was ready:\n${output().slice(-2000)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const mod = url.startsWith('https:') ? https : http;
      const req = mod.get(url, caText ? { ca: caText, timeout: 5000 } : { timeout: 5000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Keystone did not answer within ${START_TIMEOUT_MS} ms:\n${output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Starts one Keystone from a copy of the template. */
export async function startKeystoneServer(mode: KeystonePolicyMode, opts: { unref?: boolean } = {}): Promise<KeystoneServer> {
  const t = await prepareTemplate();
  const dir = await mkdtemp(join(tmpdir(), `stint-keystone-${mode}-`));
  await cp(t.dir, dir, { recursive: true });
  await writeFile(join(dir, 'keystone.conf'), conf(dir, mode));
  await writeFile(join(dir, 'policy.yaml'), POLICY);
  const port = await freePort();
  const tls = mode === 'strict' ? await makeCertificates(dir) : null;
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/v3`;
  await run('python3', ['-c', FIX_DB, join(dir, 'keystone.db'), url]);
  const socket = tls ? ['--https-socket', `127.0.0.1:${port},${tls.cert},${tls.key}`] : ['--http-socket', `127.0.0.1:${port}`];
  const child = spawn(
    'uwsgi-core',
    ['--plugin', 'python3', ...socket, '--wsgi-file', WSGI, '--processes', '1', '--threads', '1', '--die-on-term', '--need-app', '--disable-logging'],
    {
      cwd: dir,
      env: { ...process.env, OS_KEYSTONE_CONFIG_FILES: join(dir, 'keystone.conf') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const cleanup = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'ENOENT' ? new Error('uwsgi-core not found: install the Debian packages `uwsgi-core uwsgi-plugin-python3`') : err),
      );
    });
    await waitReady(url, tls?.caFile, child, () => output);
  } catch (err) {
    cleanup();
    process.removeListener('exit', cleanup);
    throw err;
  }
  if (opts.unref) for (const h of [child, child.stdout, child.stderr] as { unref?: () => void }[]) h.unref?.();
  const info: KeystoneServerInfo = { mode, url, ...(tls ? { caFile: tls.caFile } : {}), adminUser: 'admin', adminPassword: t.adminPassword };
  const names = envNames(mode);
  return {
    info,
    env: { [names.url]: url, [names.adminPassword]: t.adminPassword, ...(tls ? { [names.caFile]: tls.caFile } : {}) },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          const k = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(k);
            resolve();
          });
          child.kill('SIGTERM');
        });
      }
      await rm(dir, { recursive: true, force: true });
      process.removeListener('exit', cleanup);
    },
  };
}

/** For scripts/test-servers.ts: both policy modes for the whole run. */
export async function startKeystoneTestServers(): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  const servers = await Promise.all((['legacy', 'strict'] as const).map((m) => startKeystoneServer(m)));
  return {
    env: Object.assign({}, ...servers.map((s) => s.env)) as Record<string, string>,
    stop: async () => void (await Promise.all(servers.map((s) => s.stop()))),
  };
}

const own = new Map<KeystonePolicyMode, Promise<KeystoneServer>>();

/** The run's server for `mode` (STINT_TEST_KEYSTONE_*), else one started once per process. */
export async function testKeystoneServer(mode: KeystonePolicyMode): Promise<KeystoneServerInfo> {
  const names = envNames(mode);
  const url = process.env[names.url];
  const adminPassword = process.env[names.adminPassword];
  if (url && adminPassword) {
    const caFile = process.env[names.caFile];
    return { mode, url, ...(caFile ? { caFile } : {}), adminUser: 'admin', adminPassword };
  }
  let p = own.get(mode);
  if (!p) {
    p = startKeystoneServer(mode, { unref: true });
    own.set(mode, p);
  }
  return (await p).info;
}

process.on('beforeExit', () => {
  for (const p of own.values()) void p.then((s) => s.stop()).catch(() => {});
  own.clear();
});
