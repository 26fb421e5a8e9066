// Pure rules for what the ssh connector accepts and how it writes it: account
// and group names, profile grants (`group:<name>`, `sudo:<command>`), shell
// quoting, and the sudoers drop-ins it renders and parses. Nothing here does
// I/O, so every rule is unit-tested (names.test.ts).

/**
 * Ephemeral account names: the portable POSIX subset useradd accepts on every
 * distribution (lowercase, digit, `_`, `-`; not starting with a digit or `-`;
 * at most 32 characters, utmp's limit). Anything else is refused before a
 * command runs, so no hostile name ever reaches the host.
 */
const EPHEMERAL_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * A person's own account or an existing group: also uppercase and `.`
 * (`first.last` is common on directory-joined hosts), never starting with a
 * digit (getent would read it as a UID), `-` (an option) or `.`.
 */
const EXISTING_NAME = /^[A-Za-z_][A-Za-z0-9._-]{0,31}$/;

/** Words sudoers or the shell would read as more than a name. */
const RESERVED = new Set(['ALL', 'root']);

export function checkEphemeralName(name: string): string | null {
  if (!EPHEMERAL_NAME.test(name)) {
    return 'must be 1-32 characters of a-z, 0-9, "_" and "-", starting with a letter or "_" (a portable POSIX user name)';
  }
  if (RESERVED.has(name)) return `${JSON.stringify(name)} is reserved`;
  return null;
}

export function checkExistingName(name: string): string | null {
  if (!EXISTING_NAME.test(name)) {
    return 'must be 1-32 characters of letters, digits, ".", "_" and "-", starting with a letter or "_"';
  }
  if (RESERVED.has(name)) return `${JSON.stringify(name)} is reserved`;
  return null;
}

/** POSIX single-quote escaping: the only quoting every shell reads the same way. */
export function shq(token: string): string {
  if (token.includes('\0')) throw new Error('a shell argument cannot contain NUL');
  return `'${token.replace(/'/g, `'\\''`)}'`;
}

/** Joins tokens into one safely quoted command line. */
export function cmd(...tokens: (string | number)[]): string {
  return tokens.map((t) => shq(String(t))).join(' ');
}

// ---- grants ----------------------------------------------------------------

export type Grant = { kind: 'group'; group: string; text: string } | { kind: 'sudo'; spec: SudoSpec; text: string };

export interface SudoSpec {
  /** Run-as user, `root` when the grant names none. */
  runas: string;
  /** `ALL` or an absolute command path. */
  command: string;
  args: string[];
}

const RUNAS = /^\((ALL|[A-Za-z_][A-Za-z0-9._-]{0,31})\)$/;
const COMMAND_PATH = /^\/[A-Za-z0-9._+-]+(?:\/[A-Za-z0-9._+-]+)*$/;
// Argument words sudoers reads literally: no `, : = ( ) ! \ #` (its syntax),
// no whitespace, quotes or `$` (shell syntax in the rule's eyes).
const ARG = /^[A-Za-z0-9._+/@%*?-]+$/;

/**
 * Parses a profile grant. `group:<name>` adds a supplementary group;
 * `sudo:[(<runas>) ]<absolute path|ALL>[ <arg>...]` adds one sudoers command.
 * Returns the grant or why it is refused.
 */
export function parseGrant(text: string, marker: string): Grant | string {
  if (text.startsWith('group:')) {
    const group = text.slice('group:'.length);
    if (!EXISTING_NAME.test(group)) {
      return `group name ${JSON.stringify(group)} must be 1-32 characters of letters, digits, ".", "_" and "-", starting with a letter or "_"`;
    }
    if (group === marker) return `the marker group ${JSON.stringify(marker)} cannot be granted`;
    return { kind: 'group', group, text };
  }
  if (text.startsWith('sudo:')) {
    const spec = parseSudoSpec(text.slice('sudo:'.length));
    return typeof spec === 'string' ? spec : { kind: 'sudo', spec, text };
  }
  return 'a grant must be "group:<group name>" or "sudo:[(<run-as user>) ]<absolute command path>[ <args>]"';
}

function parseSudoSpec(s: string): SudoSpec | string {
  const words = s.split(' ');
  // One space between words, nothing else: the rule is rendered from these
  // words, and a tab, newline or doubled space would be a different rule.
  if (s.length === 0 || s.length > 512 || words.some((w) => w.length === 0)) {
    return 'a sudo grant is words separated by single spaces, at most 512 characters';
  }
  let runas = 'root';
  const m = RUNAS.exec(words[0]!);
  if (m) {
    runas = m[1]!;
    words.shift();
  }
  const command = words.shift();
  if (command === undefined) return 'a sudo grant needs a command';
  if (command === 'ALL') {
    if (words.length > 0) return 'sudo grant "ALL" takes no arguments';
    return { runas, command, args: [] };
  }
  if (!COMMAND_PATH.test(command) || command.split('/').some((p) => p === '.' || p === '..')) {
    return `sudo command ${JSON.stringify(command)} must be "ALL" or an absolute path of letters, digits and ._+-`;
  }
  for (const a of words) {
    if (a !== '""' && !ARG.test(a)) {
      return `sudo argument ${JSON.stringify(a)} may only contain letters, digits and ._+/@%*?- (or be "" for "no arguments")`;
    }
  }
  if (words.includes('""') && words.length > 1) return 'sudo argument "" (no arguments) must stand alone';
  return { runas, command, args: words };
}

/** Parses and de-duplicates grants, or returns the first reason one is refused. */
export function parseGrants(texts: readonly string[], marker: string): Grant[] | string {
  const out: Grant[] = [];
  const seen = new Set<string>();
  for (const t of texts) {
    const g = parseGrant(t, marker);
    if (typeof g === 'string') return `grant ${JSON.stringify(t)}: ${g}`;
    if (!seen.has(t)) out.push(g);
    seen.add(t);
  }
  return out;
}

// ---- sudoers drop-ins --------------------------------------------------------

export const SUDOERS_DIR = '/etc/sudoers.d';

/**
 * Drop-in file of an account. sudo ignores names containing `.`, so a dot in
 * an own account's name is written `%2e` (`%` never occurs in a name). The
 * `eph`/`own` part keeps an ephemeral account called `own-x` from ever
 * sharing a file with the own account `x`.
 */
export function dropInName(kind: 'ephemeral' | 'own', account: string): string {
  return `stint-${kind === 'ephemeral' ? 'eph' : 'own'}-${account.replace(/\./g, '%2e')}`;
}

/** sudoers' NOTAFTER format: UTC, to the second. */
export function sudoersTime(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export interface DropIn {
  account: string;
  uid: number;
  /** The grants, as written in the profile. */
  grants: string[];
}

const HEADER = '# Managed by Stint (ssh connector). Do not edit: Stint rewrites or removes this file.';

/**
 * Renders a drop-in. The user is named by UID (`#61000`), so no account name
 * can ever be read as a sudoers keyword or alias. NOTAFTER makes sudo itself
 * refuse the rules after the grant's end, even if Stint is gone.
 */
export function renderDropIn(d: DropIn, marker: string, notAfter: Date | null): string {
  const lines = [HEADER, `# stint-account ${d.account} uid ${d.uid}`];
  for (const text of d.grants) {
    const g = parseGrant(text, marker);
    if (typeof g === 'string' || g.kind !== 'sudo') throw new Error(`not a sudo grant: ${text}`);
    const command = [g.spec.command, ...g.spec.args].join(' ');
    const when = notAfter ? ` NOTAFTER=${sudoersTime(notAfter)}` : '';
    lines.push(`# stint-grant ${text}`, `#${d.uid} ALL=(${g.spec.runas})${when} NOPASSWD: ${command}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Reads the drop-ins in `text` (one or several files, concatenated). */
export function parseDropIns(text: string): DropIn[] {
  const out: DropIn[] = [];
  let cur: DropIn | null = null;
  for (const line of text.split('\n')) {
    const head = /^# stint-account (\S+) uid (\d+)$/.exec(line);
    if (head) {
      cur = { account: head[1]!, uid: Number(head[2]), grants: [] };
      out.push(cur);
      continue;
    }
    const g = /^# stint-grant (sudo:.+)$/.exec(line);
    if (g && cur) cur.grants.push(g[1]!);
  }
  return out;
}

// ---- account expiry ------------------------------------------------------------

const DAY_MS = 86_400_000;

/**
 * Linux account expiry (shadow's sp_expire) counts whole days since the epoch;
 * the account is refused from 00:00 UTC of that day. Rounding up keeps the
 * account usable until `expiresAt` (at most a day longer; the broker removes it
 * on time, and sudo's NOTAFTER is exact). An expiry already past becomes day 1,
 * refused since 1970-01-02.
 */
export function expiryDay(expiresAt: Date, now: Date): number {
  if (expiresAt.getTime() <= now.getTime()) return 1;
  return Math.max(1, Math.ceil(expiresAt.getTime() / DAY_MS));
}

/** The GECOS field of an ephemeral account: the precise expiry (a passwd field, so no ":" or ","). */
export function gecosFor(expiresAt: Date): string {
  return `stint ephemeral account expires-ms=${expiresAt.getTime()}`;
}

export function expiryFromGecos(gecos: string): Date | null {
  const m = /expires-ms=(\d{1,15})/.exec(gecos);
  return m ? new Date(Number(m[1])) : null;
}
