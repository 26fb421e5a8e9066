// Shell scripts the connector sends over `exec`, built only from validated
// tokens, each quoted with POSIX single quotes (names.ts `cmd`). They run in
// the operator's login shell (any POSIX sh); only the `sudo -n <absolute path>`
// lines are privileged. Every step that may fail names itself on stderr
// (`stint-step-failed <step> <exit code>`), so errors say where they stopped.

import { BIN } from './operator-sudoers.js';
import { SUDOERS_DIR, cmd, shq } from './names.js';

/** Exit code of a script that stopped at a named step. */
export const STEP_FAILED = 97;
/** useradd exit 4: the UID was taken meanwhile (another broker); pick again. */
export const UID_TAKEN = 96;
/** useradd exit 9: the name was taken meanwhile; look again. */
export const NAME_TAKEN = 95;

const PRELUDE = `fail() { printf 'stint-step-failed %s %s\\n' "$1" "$2" >&2; exit ${STEP_FAILED}; }`;

export const sudo = (bin: keyof typeof BIN, ...args: (string | number)[]) => `sudo -n ${cmd(BIN[bin], ...args)}`;

/** `line || fail step $?` */
const step = (name: string, line: string) => `${line} || fail ${name} $?`;

export function script(...lines: string[]): string {
  return [PRELUDE, ...lines].join('\n');
}

export function appendLog(path: string, line: string): string {
  return step('state-log', `printf '%s\\n' ${shq(line)} | ${sudo('tee', '-a', path)} >/dev/null`);
}

/** Writes `content` to `path` as root-checked file with owner and mode (install unlinks, never follows, an existing file). */
export function writeFile(stepName: string, path: string, content: string, owner: string | number, group: string | number, mode: string): string {
  return step(stepName, `printf '%s' ${shq(content)} | ${sudo('install', '-m', mode, '-o', owner, '-g', group, '/dev/stdin', path)}`);
}

export function dropInPaths(file: string): { final: string; staged: string } {
  // A name with a dot is ignored by sudo's @includedir: the staged copy is inert.
  return { final: `${SUDOERS_DIR}/${file}`, staged: `${SUDOERS_DIR}/.${file}.new` };
}

/** Stages a drop-in and checks it with visudo; nothing is active until `activateDropIn`. */
export function stageDropIn(file: string, content: string): string[] {
  const { staged } = dropInPaths(file);
  return [
    writeFile('sudoers-write', staged, content, 'root', 'root', '0440'),
    `${sudo('visudo', '-c', '-q', '-f', staged)} >&2 || { r=$?; ${sudo('rm', '-f', staged)}; fail sudoers-check $r; }`,
  ];
}

export function activateDropIn(file: string): string {
  const { final, staged } = dropInPaths(file);
  return step('sudoers-install', sudo('mv', '-f', staged, final));
}

export function removeDropIn(file: string): string {
  const { final, staged } = dropInPaths(file);
  return step('sudoers-remove', sudo('rm', '-f', final, staged));
}

/** Prints `stint-sessions <n>`: distinct session IDs among the UID's processes. */
export function countSessions(uid: number): string {
  return `printf 'stint-sessions %s\\n' "$(ps -o sid= -u ${shq(String(uid))} -U ${shq(String(uid))} 2>/dev/null | sort -u | grep -c .)"`;
}

/** SIGKILLs every process with the UID (effective or real) until none is left (5 s at most). */
export function killAll(uid: number): string {
  const u = shq(String(uid));
  return [
    'i=0',
    `while pgrep -u ${u} >/dev/null || pgrep -U ${u} >/dev/null; do`,
    `  ${sudo('pkill', '-KILL', '-u', uid)}; ${sudo('pkill', '-KILL', '-U', uid)}`,
    `  i=$((i+1)); [ "$i" -lt 50 ] || fail kill-processes 1; sleep 0.1`,
    'done',
  ].join('\n');
}

export interface NewAccount {
  name: string;
  uid: number;
  markerGid: number;
  home: string;
  shell: string;
  expiryDay: number;
  gecos: string;
  groups: string[];
  authorizedKey: string;
  /** Root-owned directory sshd reads the marker group's keys from. */
  keysDir: string;
  uidLog: string;
  dropIn: { file: string; content: string } | null;
}

/** useradd + key + drop-in. The drop-in is checked before the account exists. */
export function createScript(a: NewAccount): string {
  const lines = [appendLog(a.uidLog, `used ${a.uid} ${a.name}`)];
  if (a.dropIn) lines.push(...stageDropIn(a.dropIn.file, a.dropIn.content));
  lines.push(useraddLine(a));
  lines.push(keysDirLine(a.keysDir), installKey(a.keysDir, a.name, a.authorizedKey));
  if (a.dropIn) lines.push(activateDropIn(a.dropIn.file));
  return script(...lines);
}

function useraddLine(a: NewAccount): string {
  const groups = a.groups.length > 0 ? ['-G', a.groups.join(',')] : [];
  // -N -g: the marker group is the primary group (no per-user group to clean
  // up); -p '*': no password, yet not "locked" (sshd without PAM refuses keys
  // of "!" accounts); -l: no lastlog entry a later holder of the UID would see.
  const add = sudo(
    'useradd',
    '-u',
    a.uid,
    '-g',
    a.markerGid,
    '-N',
    '-l',
    '-m',
    '-K',
    'HOME_MODE=0700',
    '-d',
    a.home,
    '-s',
    a.shell,
    '-e',
    a.expiryDay,
    '-c',
    a.gecos,
    '-p',
    '*',
    ...groups,
    a.name,
  );
  return [
    // useradd warns about UIDs outside login.defs' range even when it
    // succeeds; its output is shown only when it fails.
    `out=$(${add} 2>&1); r=$?`,
    `[ "$r" -eq 0 ] || printf '%s\n' "$out" >&2`,
    `[ "$r" -eq 4 ] && { ${a.dropIn ? sudo('rm', '-f', dropInPaths(a.dropIn.file).staged) + '; ' : ''}exit ${UID_TAKEN}; }`,
    `[ "$r" -eq 9 ] && { ${a.dropIn ? sudo('rm', '-f', dropInPaths(a.dropIn.file).staged) + '; ' : ''}exit ${NAME_TAKEN}; }`,
    `[ "$r" -eq 0 ] || fail useradd "$r"`,
  ].join('\n');
}

/**
 * `<keysDir>/<name>`, root's and 0644: the account cannot change it, and sshd
 * (`AuthorizedKeysFile <keysDir>/%u` for the marker group) reads keys from
 * nowhere else, so a key the account adds in its home is never honoured.
 */
function installKey(keysDir: string, name: string, key: string): string {
  return writeFile('authorized-keys', `${keysDir}/${name}`, `${key}\n`, 'root', 'root', '0644');
}

/** The keys directory, root's and 0755 (made when missing, at every create: someone may have removed it). */
export function keysDirLine(keysDir: string): string {
  return step('keys-dir', `[ -d ${cmd(keysDir)} ] || ${sudo('install', '-d', '-m', '0755', '-o', 'root', '-g', 'root', keysDir)}`);
}

/**
 * Prints `stint-planted-key <file>` for each authorized_keys file the account
 * wrote in its own ~/.ssh (inert when sshd is set up as documented; reported,
 * since it shows an attempt to log in around the gateway). find does not
 * follow a symlinked ~/.ssh.
 */
export function plantedKeys(home: string): string {
  return `${sudo('find', `${home}/.ssh`, '-maxdepth', '1', '-name', 'authorized_keys*', '-printf', 'stint-planted-key %f\\n')} 2>/dev/null`;
}

export type ResetAccount = Omit<NewAccount, 'uidLog' | 'dropIn'> & { dropInFile: string; dropIn: NewAccount['dropIn'] };

/**
 * Brings an existing managed account to a requested state (a repeated create).
 * Locks it and ends its processes first, so nothing of the old state runs on.
 */
export function resetScript(a: ResetAccount): string {
  const lines = [];
  if (a.dropIn) lines.push(...stageDropIn(a.dropIn.file, a.dropIn.content));
  lines.push(
    step('lock', sudo('usermod', '-L', '-e', 1, a.name)),
    killAll(a.uid),
    keysDirLine(a.keysDir),
    installKey(a.keysDir, a.name, a.authorizedKey),
    step('usermod', sudo('usermod', '-p', '*', '-e', a.expiryDay, '-c', a.gecos, '-G', a.groups.join(','), a.name)),
    a.dropIn ? activateDropIn(a.dropIn.file) : removeDropIn(a.dropInFile),
  );
  return script(...lines);
}

export interface RemoveAccount {
  name: string;
  uid: number;
  home: string;
  keysDir: string;
  dropInFile: string;
  uidLog: string;
  tempDirs: string[];
}

/** The removal order: lock, key, kill, sudo rules, crontab, at jobs, home, temp files, userdel. */
export function removeScript(a: RemoveAccount): string {
  const lines = [
    step('lock', sudo('usermod', '-L', '-e', 1, a.name)),
    step('authorized-keys', sudo('rm', '-f', `${a.keysDir}/${a.name}`)),
    countSessions(a.uid),
    killAll(a.uid),
    removeDropIn(a.dropInFile),
    `${sudo('crontab', '-r', '-u', a.name)} 2>/dev/null`,
    `${sudo('crontab', '-l', '-u', a.name)} >/dev/null 2>&1 && fail crontab 1`,
    `jobs=$(${sudo('atq')} 2>/dev/null | awk -v u=${shq(a.name)} '$NF == u { print $1 }')`,
    // Job numbers are digits (awk's $1 of atq), safe unquoted.
    `[ -z "$jobs" ] || ${sudo('atrm')} $jobs || fail atrm $?`,
    plantedKeys(a.home),
    step('home', sudo('rm', '-rf', '--one-file-system', a.home)),
  ];
  if (a.tempDirs.length > 0) {
    // Best effort: a file in a directory of someone else's may not be deletable.
    lines.push(`${sudo('find', ...a.tempDirs, '-xdev', '-uid', a.uid, '-delete')} 2>/dev/null`);
  }
  lines.push(
    `${sudo('rm', '-f', `/var/mail/${a.name}`, `/var/spool/mail/${a.name}`)} 2>/dev/null`,
    killAll(a.uid),
    `${sudo('userdel', a.name)}; r=$?; [ "$r" -eq 0 ] || [ "$r" -eq 6 ] || fail userdel "$r"`,
    appendLog(a.uidLog, `retired ${a.uid}`),
  );
  return script(...lines);
}

/** Prints `stint-has-files <uid>` for each of `uids` that owns a file under `roots`. */
export function scanScript(roots: string[], uids: number[]): string {
  const match = uids.flatMap((u, i) => (i === 0 ? ['-uid', u] : ['-o', '-uid', u]));
  const prune = ['(', '-path', '/proc', '-o', '-path', '/sys', ')', '-prune', '-o'];
  return script(`${sudo('find', ...roots, ...prune, '(', ...match, ')', '-printf', 'stint-has-files %U\\n')} 2>/dev/null | sort -u`);
}
