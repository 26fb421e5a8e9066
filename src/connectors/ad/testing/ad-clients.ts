// The real clients the AD tests prove access with: an LDAPS simple bind
// (ldapts), `kinit` against the DC's KDC with a private KRB5_CONFIG, and
// `smbclient` listing the share only one group may read. Each throws when
// the DC refuses; the error carries the client's own words.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import type { AdTestServerInfo } from '../../../testing/servers/samba.js';

function exec(cmd: string, args: string[], env: Record<string, string>, stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile(cmd, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed (${err.code ?? err.signal}): ${`${stdout}\n${stderr}`.trim().slice(-600)}`));
      else resolve(stdout);
    });
    // A client that exits without reading its input (a refused kinit, smbclient -k) closes the pipe first:
    // the EPIPE says nothing, its exit status and output do.
    p.stdin?.on('error', () => {});
    p.stdin?.end(stdin ?? '');
  });
}

export async function ldapsBind(info: AdTestServerInfo, name: string, password: string): Promise<Client> {
  const c = new Client({
    url: info.url,
    connectTimeout: 30_000,
    timeout: 60_000,
    tlsOptions: { ca: await readFile(info.caFile), servername: info.serverName },
  });
  try {
    await c.bind(name, password);
    return c;
  } catch (err) {
    await c.unbind().catch(() => {});
    throw err;
  }
}

/** A private credential cache; `kinit` fills it, `destroy` deletes it. */
export interface Ccache {
  path: string;
  env: Record<string, string>;
  destroy(): Promise<void>;
}

export async function newCcache(info: AdTestServerInfo): Promise<Ccache> {
  const dir = await mkdtemp(join(tmpdir(), 'stint-krb5cc-'));
  const path = join(dir, 'cc');
  return { path, env: { KRB5_CONFIG: info.krb5Config, KRB5CCNAME: `FILE:${path}` }, destroy: () => rm(dir, { recursive: true, force: true }) };
}

/** `kinit principal` with the password on stdin; throws when the KDC refuses. */
export async function kinit(info: AdTestServerInfo, cc: Ccache, principal: string, password: string): Promise<void> {
  await exec('kinit', [principal], cc.env, `${password}\n`);
}

/** True while the cache holds a TGT that has not expired (`klist -s`). */
export async function hasTicket(cc: Ccache): Promise<boolean> {
  return exec('klist', ['-s'], cc.env).then(
    () => true,
    () => false,
  );
}

const smbArgs = (info: AdTestServerInfo) => ['-p', info.smbPort, '-I', '127.0.0.1', `//${info.serverName}/${info.share}`, '-c', 'ls'];

/** Lists the group-only share with a password (NTLM); throws when refused. */
export async function smbListWithPassword(info: AdTestServerInfo, sam: string, password: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stint-smbauth-'));
  try {
    const auth = join(dir, 'auth');
    await writeFile(auth, `username = ${sam}\npassword = ${password}\ndomain = STINT\n`, { mode: 0o600 });
    return await exec('smbclient', [...smbArgs(info), '-A', auth, '--use-kerberos=disabled'], {});
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Lists the share with the Kerberos tickets in `cc` (a new service ticket, asked with the cached TGT). */
export async function smbListWithTicket(info: AdTestServerInfo, cc: Ccache): Promise<string> {
  return exec('smbclient', [...smbArgs(info), '--use-kerberos=required'], cc.env);
}
