// Does the host's sshd keep Stint's accounts inside Stint? Judged from the
// effective settings sshd itself computes for an account of the marker group
// (`sshd -T -C user=<probe>,host=<broker>,addr=<broker>`, which applies the
// `Match Group` block): keys only from the root-owned directory the connector
// writes, no other way in (passwords, keyboard-interactive, host-based,
// an AuthorizedKeysCommand), and no tunnels, remote forwards, agent or X11
// forwarding or ~/.ssh/rc. See README.md, "The host's sshd".

import type { BypassCheck } from '../contract.js';

/** `sshd -T` prints one `keyword value…` per line, keywords in lower case. */
export function parseSshdT(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf(' ');
    if (i <= 0) continue;
    const k = line.slice(0, i).toLowerCase();
    // Repeated keywords (e.g. several listen addresses) keep the first; none checked here repeats.
    if (!m.has(k)) m.set(k, line.slice(i + 1).trim());
  }
  return m;
}

interface Expect {
  keyword: string;
  ok: (v: string) => boolean;
  want: string;
  why: string;
}

const expectations: Expect[] = [
  { keyword: 'authorizedkeyscommand', ok: (v) => v === 'none', want: 'none', why: 'a command could hand sshd keys from anywhere, the home included' },
  { keyword: 'passwordauthentication', ok: (v) => v === 'no', want: 'no', why: 'an account that set itself a password could log in directly' },
  { keyword: 'kbdinteractiveauthentication', ok: (v) => v === 'no', want: 'no', why: 'with PAM it is password login by another name' },
  { keyword: 'hostbasedauthentication', ok: (v) => v === 'no', want: 'no', why: 'it trusts ~/.shosts, which the account can write' },
  { keyword: 'permittunnel', ok: (v) => v === 'no', want: 'no', why: 'tun/tap tunnels carry traffic the gateway neither allows nor sees' },
  {
    keyword: 'allowtcpforwarding',
    ok: (v) => v === 'no' || v === 'local',
    want: 'local (what profiles with portForwarding need) or no',
    why: 'remote forwarding opens listeners on the host',
  },
  { keyword: 'allowstreamlocalforwarding', ok: (v) => v === 'no', want: 'no', why: 'Unix socket forwarding is not relayed by the gateway' },
  { keyword: 'allowagentforwarding', ok: (v) => v === 'no', want: 'no', why: 'the gateway refuses it; the host should too' },
  { keyword: 'x11forwarding', ok: (v) => v === 'no', want: 'no', why: 'the gateway refuses it; the host should too' },
  { keyword: 'permituserrc', ok: (v) => v === 'no', want: 'no', why: '~/.ssh/rc runs what the account wrote at every login' },
];

export interface SshdFacts {
  /** `sshd -T` output, or null when it could not be run. */
  sshdT: string | null;
  /** Why sshd -T could not be run (its stderr, exit code). */
  sshdError: string;
  /** `stat -c '%u %a'` of the keys directory, or null when it does not exist. */
  keysDirStat: string | null;
  keysDir: string;
  homeBase: string;
  probe: string;
  config: string;
}

/** The findings, one per setting; every setting is `unknown` when sshd -T could not be read. */
export function judgeSshd(f: SshdFacts): BypassCheck[] {
  const out: BypassCheck[] = [];
  if (f.sshdT === null) {
    const hint = /password is required|not allowed to execute|may not run sudo/i.test(f.sshdError)
      ? ' (the operator account needs sudo for /usr/sbin/sshd: see src/connectors/ssh/README.md)'
      : '';
    return [{ check: 'sshd', status: 'unknown', message: `cannot verify: sshd -T -f ${f.config} for ${f.probe} failed: ${f.sshdError.slice(0, 300)}${hint}` }];
  }
  const t = parseSshdT(f.sshdT);
  const want = `${f.keysDir}/%u`;
  const akf = t.get('authorizedkeysfile');
  if (akf === undefined) {
    out.push({ check: 'sshd:authorizedkeysfile', status: 'unknown', message: 'cannot verify: sshd -T printed no authorizedkeysfile' });
  } else {
    const files = akf.split(/\s+/).filter(Boolean);
    // Relative paths and %h are in the home; ~ too; an absolute path under homeBase is some account's home.
    const inHome = files.filter((p) => !p.startsWith('/') || p.includes('%h') || p.startsWith('~') || `${p}/`.startsWith(`${f.homeBase}/`));
    if (inHome.length > 0) {
      out.push({
        check: 'sshd:authorizedkeysfile',
        status: 'fail',
        message: `sshd reads keys of the marker group's accounts from ${inHome.join(' ')}, inside their home: an account can add its own key and log in around Stint. Set AuthorizedKeysFile ${want} in a Match Group block`,
      });
    } else if (files.length !== 1 || files[0] !== want) {
      out.push({
        check: 'sshd:authorizedkeysfile',
        status: 'fail',
        message: `sshd reads keys of the marker group's accounts from ${akf}, not only ${want} where Stint writes them`,
      });
    } else {
      out.push({ check: 'sshd:authorizedkeysfile', status: 'pass', message: `keys only from ${want}` });
    }
  }
  if (f.keysDirStat === null) {
    out.push({ check: 'keys-dir', status: 'fail', message: `${f.keysDir} does not exist (Stint makes it with the next account)` });
  } else {
    const [uid, mode] = f.keysDirStat.trim().split(/\s+/);
    const writable = (Number.parseInt(mode ?? '777', 8) & 0o022) !== 0;
    out.push(
      uid !== '0' || writable
        ? { check: 'keys-dir', status: 'fail', message: `${f.keysDir} must be root's and writable by root only (owner uid ${uid}, mode ${mode})` }
        : { check: 'keys-dir', status: 'pass', message: `${f.keysDir} is root's, mode ${mode}` },
    );
  }
  for (const e of expectations) {
    const v = t.get(e.keyword);
    if (v === undefined) out.push({ check: `sshd:${e.keyword}`, status: 'unknown', message: `cannot verify: sshd -T printed no ${e.keyword}` });
    else if (e.ok(v)) out.push({ check: `sshd:${e.keyword}`, status: 'pass', message: `${e.keyword} ${v}` });
    else out.push({ check: `sshd:${e.keyword}`, status: 'fail', message: `${e.keyword} is ${v} for the marker group's accounts; want ${e.want}: ${e.why}` });
  }
  return out;
}
