// Pure helpers for Redis ACL rules: the grammar a profile grant must follow,
// account-name checks, Stint's markers, and reading what ACL GETUSER reports.
// No I/O here, so all of it is unit-tested without a server.

import { createHash } from 'node:crypto';

/** Default marker channel: its presence in a user's root rules makes the user Stint-managed. */
export const DEFAULT_MARKER = '__stint_managed__';

/** Markers must look like this, so a grant can never forge one (grants may not name `&__stint…`). */
export const MARKER_PATTERN = /^__stint[a-z0-9_]*__$/;

/** Key prefix of the short-lived locks that serialise own-account changes across brokers. */
export const LOCK_KEY_PREFIX = '__stint:lock:';

/** Redis has no username limit; this keeps names sane in logs and the ACL file. */
export const MAX_ACCOUNT_BYTES = 256;
const MAX_GRANT_LENGTH = 512;

/**
 * The minimum rules for the admin user Stint connects as (see README.md).
 * `+acl` alone would also do; naming the subcommands keeps ACL LOAD, ACL
 * LOG RESET and friends out of reach.
 */
export const MINIMUM_ADMIN_RULES: readonly string[] = [
  'resetkeys',
  'resetchannels',
  '-@all',
  '+acl|setuser',
  '+acl|getuser',
  '+acl|deluser',
  '+acl|users',
  '+acl|save',
  '+client|list',
  '+client|kill',
  '+config|get',
  '+ping',
  // Own-account lock keys only.
  '+set',
  '+del',
  `~${LOCK_KEY_PREFIX}*`,
];

// Bare-word ACL rules that change flags, passwords or whole lists: never a
// grant. `&*`/`allchannels` would erase Stint's marker channel (Redis empties
// the channel list when it sees them), `-@all`/`nocommands` would erase the
// grants before them.
const refusedWords = new Set([
  'on',
  'off',
  'nopass',
  'resetpass',
  'reset',
  'allkeys',
  'resetkeys',
  'allchannels',
  'resetchannels',
  'allcommands',
  'nocommands',
  'clearselectors',
  'sanitize-payload',
  'skip-sanitize-payload',
]);

// Printable ASCII without space, quotes and parentheses: Redis parses a
// selector `(…)` with its own quote rules and silently drops quoted parts,
// and parentheses would end a selector early.
const PATTERN_BODY = /^[!#-&*-~]+$/;
const COMMAND_RULE = /^[+-](@[a-z][a-z0-9_-]*|[a-z][a-z0-9_.-]*(\|[a-z0-9_.:-]+)?)$/;

/** Checks one grant (one ACL rule token): null when valid, else why not. */
export function checkGrant(grant: string): string | null {
  if (typeof grant !== 'string' || grant.length === 0) return 'must be a non-empty ACL rule';
  if (grant.length > MAX_GRANT_LENGTH) return `longer than ${MAX_GRANT_LENGTH} characters`;
  if (/\s/.test(grant)) return 'must be exactly one ACL rule (no spaces)';
  const lower = grant.toLowerCase();
  if (refusedWords.has(lower)) return `${JSON.stringify(grant)} changes the account itself, not its permissions; it cannot be a grant`;
  if (grant.startsWith('>') || grant.startsWith('<') || grant.startsWith('#') || grant.startsWith('!')) {
    return 'passwords are set by Stint, never by a grant';
  }
  if (grant.startsWith('(')) return 'selectors are not grants; list their rules as separate grants';
  const key = /^(~|%R~|%W~)(.*)$/.exec(grant);
  if (key) {
    if (!PATTERN_BODY.test(key[2]!)) return 'a key pattern must be non-empty printable ASCII without quotes or parentheses';
    return null;
  }
  if (/^%[RW]+~/i.test(grant)) return 'write %R~ (read), %W~ (write) or ~ (both), as Redis reports them';
  if (grant.startsWith('&')) {
    const body = grant.slice(1);
    if (!PATTERN_BODY.test(body)) return 'a channel pattern must be non-empty printable ASCII without quotes or parentheses';
    if (body === '*')
      return '`&*` would erase the channel pattern Stint marks its accounts with; grant narrower patterns (`&?*` matches every non-empty channel name)';
    if (body.startsWith('__stint')) return 'channel patterns starting with __stint are reserved for Stint markers';
    return null;
  }
  if (grant === '-@all') return '`-@all` discards every command rule before it; it adds nothing to a profile';
  if (grant.startsWith('+') || grant.startsWith('-')) {
    if (grant !== lower) return 'write commands and categories in lowercase, as Redis reports them';
    if (!COMMAND_RULE.test(grant)) return 'not a command rule (+cmd, -cmd, +cmd|sub, +@category, -@category)';
    return null;
  }
  return 'not a key pattern (~, %R~, %W~), channel pattern (&) or command rule (+, -)';
}

/** Checks an account (Redis user) name: null when valid, else why not. */
export function checkAccountName(account: string): string | null {
  if (typeof account !== 'string' || account.length === 0) return 'must not be empty';
  // Redis refuses whitespace and NUL in user names; control characters would corrupt the ACL file.
  if (/[\s\p{Cc}]/u.test(account)) return 'Redis user names cannot contain spaces or control characters';
  if (Buffer.byteLength(account, 'utf8') > MAX_ACCOUNT_BYTES) return `longer than ${MAX_ACCOUNT_BYTES} bytes`;
  return null;
}

/** Order-independent fingerprint of a grant set; names the own-account selector that carries it. */
export function grantDigest(grants: readonly string[]): string {
  const canonical = [...new Set(grants)].sort();
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

/** Channel pattern (without `&`) that marks the own-account selector for one grant set. */
export const grantMarker = (marker: string, grants: readonly string[]) => `${marker}:grant:${grantDigest(grants)}`;

/** The argument that adds one own-account selector: one argv, its tokens already validated as space-free. */
export function selectorArgument(marker: string, grants: readonly string[]): string {
  // resetchannels first: with acl-pubsub-default=allchannels a new selector
  // starts with every channel, and adding a pattern after that is an error.
  return `(${['resetchannels', `&${grantMarker(marker, grants)}`, ...grants].join(' ')})`;
}

/** One rule set (the root or a selector) as ACL GETUSER reports it. */
export interface AclRuleSet {
  commands: string;
  keys: string;
  channels: string;
}

export interface AclUser extends AclRuleSet {
  flags: string[];
  selectors: AclRuleSet[];
}

const words = (s: string) => s.split(' ').filter((w) => w.length > 0);

/** Reads the flat [field, value, …] reply of ACL GETUSER (RESP2); null when the user does not exist. */
export function parseGetUser(reply: unknown): AclUser | null {
  if (reply === null || reply === undefined) return null;
  const fields = toMap(reply);
  const selectors = Array.isArray(fields.get('selectors')) ? (fields.get('selectors') as unknown[]).map(toRuleSet) : [];
  const flags = Array.isArray(fields.get('flags')) ? (fields.get('flags') as unknown[]).map(String) : [];
  return { ...toRuleSet(reply), flags, selectors };
}

function toMap(reply: unknown): Map<string, unknown> {
  if (!Array.isArray(reply)) throw new Error('unexpected ACL GETUSER reply');
  const m = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), reply[i + 1]);
  return m;
}

function toRuleSet(reply: unknown): AclRuleSet {
  const m = toMap(reply);
  const str = (k: string) => {
    const v = m.get(k);
    // Redis 6 reported keys/channels as arrays; 7 reports space-separated strings.
    return Array.isArray(v) ? v.map(String).join(' ') : typeof v === 'string' ? v : '';
  };
  return { commands: str('commands'), keys: str('keys'), channels: str('channels') };
}

/** The grant tokens of a rule set, as Redis normalised them, without the given marker channels. */
export function ruleTokens(rules: AclRuleSet, dropChannels: ReadonlySet<string> = new Set()): string[] {
  const commands = words(rules.commands);
  // Every rule set Stint writes starts from -@all; it is the baseline, not a grant.
  if (commands[0] === '-@all') commands.shift();
  const channels = words(rules.channels).filter((c) => !dropChannels.has(c.slice(1)));
  return [...words(rules.keys), ...channels, ...commands];
}

/** Whether the root rules carry the marker channel (an ephemeral account Stint made). */
export const isMarked = (user: AclUser, marker: string) => words(user.channels).includes(`&${marker}`);

/** Digest of a Stint own-account selector, or null for any other selector. */
export function selectorDigest(sel: AclRuleSet, marker: string): string | null {
  const prefix = `&${marker}:grant:`;
  const tag = words(sel.channels).find((c) => c.startsWith(prefix));
  return tag ? tag.slice(prefix.length) : null;
}

/** What describeAccount/listManaged report: the ephemeral root grants plus every Stint selector's grants. */
export function managedGrants(user: AclUser, marker: string): string[] {
  const out = new Set<string>();
  if (isMarked(user, marker)) for (const t of ruleTokens(user, new Set([marker]))) out.add(t);
  for (const sel of user.selectors) {
    const d = selectorDigest(sel, marker);
    if (d !== null) for (const t of ruleTokens(sel, new Set([`${marker}:grant:${d}`]))) out.add(t);
  }
  return [...out];
}

/**
 * Rebuilds a selector as one SETUSER argument, in the form ACL LIST prints it,
 * so clearing all selectors and re-adding the others restores them exactly.
 * Null when it cannot be written back faithfully.
 */
export function rebuildSelector(sel: AclRuleSet): string | null {
  const tokens = [...words(sel.keys), 'resetchannels', ...words(sel.channels), ...words(sel.commands)];
  if (tokens.some((t) => /["']/.test(t))) return null;
  return `(${tokens.join(' ')})`;
}

export const sameRuleSet = (a: AclRuleSet, b: AclRuleSet) => a.commands === b.commands && a.keys === b.keys && a.channels === b.channels;

/** Client ids per user from CLIENT LIST (fields are space-separated; user names hold no spaces). */
export function clientsOf(clientList: string, account: string): string[] {
  const ids: string[] = [];
  for (const line of clientList.split('\n')) {
    let id: string | undefined;
    let user: string | undefined;
    for (const field of line.trim().split(' ')) {
      const eq = field.indexOf('=');
      if (eq < 0) continue;
      const k = field.slice(0, eq);
      if (k === 'id') id = field.slice(eq + 1);
      else if (k === 'user') user = field.slice(eq + 1);
    }
    if (id !== undefined && user === account) ids.push(id);
  }
  return ids;
}
