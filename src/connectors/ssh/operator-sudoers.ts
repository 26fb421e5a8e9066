// The commands the ssh connector runs with sudo, by absolute path, and the
// sudoers drop-in that lets the operator account (the admin credential) run
// exactly those, without a password. The README prints the same text and the
// test server installs it, so the documented privileges are the tested ones.

/** Privileged commands, by the paths Debian/Ubuntu and RHEL-family hosts share (merged /usr). */
export const BIN = {
  useradd: '/usr/sbin/useradd',
  usermod: '/usr/sbin/usermod',
  userdel: '/usr/sbin/userdel',
  groupadd: '/usr/sbin/groupadd',
  gpasswd: '/usr/bin/gpasswd',
  pkill: '/usr/bin/pkill',
  crontab: '/usr/bin/crontab',
  atq: '/usr/bin/atq',
  atrm: '/usr/bin/atrm',
  visudo: '/usr/sbin/visudo',
  install: '/usr/bin/install',
  rm: '/usr/bin/rm',
  mv: '/usr/bin/mv',
  tee: '/usr/bin/tee',
  cat: '/usr/bin/cat',
  find: '/usr/bin/find',
  sshd: '/usr/sbin/sshd',
} as const;

/** Why each command is needed (README table). */
export const WHY: Record<keyof typeof BIN, string> = {
  useradd: 'create ephemeral accounts (fixed UID, marker group, expiry, no password)',
  usermod: 'lock/expire an account, change its expiry, groups and key-only login',
  userdel: 'delete an ephemeral account',
  groupadd: 'create the marker group once (`groupadd -r`)',
  gpasswd: 'add/remove own accounts to/from supplementary groups',
  pkill: 'end every process of an account (SIGKILL)',
  crontab: "remove an account's crontab (`crontab -r -u`)",
  atq: "find an account's at jobs",
  atrm: "remove an account's at jobs",
  visudo: 'check every sudoers drop-in (`visudo -cf`) before it is installed',
  install: 'write authorized_keys, drop-ins and the state directory with exact owner and mode',
  rm: 'remove the home directory, mail spool and drop-ins',
  mv: 'put a checked drop-in in place atomically',
  tee: 'append to the UID log in the state directory',
  cat: 'read the drop-ins Stint wrote (mode 0440)',
  find: "delete the account's files in temporary directories; scan for files of retired UIDs; find keys an account wrote in its own ~/.ssh",
  sshd: "read sshd's effective settings for the marker group (`sshd -T -C user=<probe>,…`; reconcile's check that keys come only from the root-owned directory)",
};

/**
 * The sudoers drop-in for the operator account. Note what it means: several of
 * these commands (useradd, usermod, install, mv into /etc/sudoers.d) can be
 * turned into full root by whoever holds the key, so guard the admin key like
 * a root credential. The list keeps shells, editors and everything else out,
 * and sudo logs every command the connector runs.
 */
export function operatorSudoers(operator: string): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(operator)) throw new Error(`invalid operator account name ${JSON.stringify(operator)}`);
  const cmds = Object.values(BIN).join(', \\\n    ');
  return [
    '# Stint ssh connector: the commands its operator account may run as root.',
    `Cmnd_Alias STINT_SSH = ${cmds}`,
    `Defaults:${operator} !requiretty`,
    `${operator} ALL=(root) NOPASSWD: STINT_SSH`,
    '',
  ].join('\n');
}
