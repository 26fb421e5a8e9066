// A deliberately small reader of sudoers text, for standing-privilege
// discovery only (it never decides access): user specifications
// `users hosts = [(runas)] [OPTION=value…] [TAG:…] command, …`, with
// User_Alias, Runas_Alias and Cmnd_Alias expanded. Lines it cannot read
// (Host_Alias-dependent rules are read as if the host matched, Defaults and
// includes are skipped) never make a holder up: a rule counts only when its
// command list names the grant's command exactly, its path alone (any
// arguments) or ALL. Negated entries (`!cmd`) and rules past their NOTAFTER
// grant nothing.

export interface SudoRule {
  /** User list entries as written: `name`, `%group`, `#uid`, `%#gid`, `ALL`. */
  users: string[];
  /** Run-as users; `root` when the rule names none. */
  runas: string[];
  /** `ALL`, `/path`, or `/path args`. */
  commands: string[];
}

const ALIAS = /^(User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\s+(.*)$/;

/** Logical lines: continuations joined, comments stripped (`#123` user ids and `#include` are not comments). */
function logicalLines(text: string): string[] {
  const joined = text.replace(/\\\n/g, ' ');
  const out: string[] = [];
  for (const raw of joined.split('\n')) {
    let line = raw.trim();
    if (line.startsWith('#include') || line.startsWith('@include')) continue;
    const hash = line.search(/#(?!\d)/);
    if (hash >= 0) line = line.slice(0, hash).trim();
    if (line.length > 0) out.push(line);
  }
  return out;
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

/** Reads the user specifications of one sudoers file; `now` drops rules past NOTAFTER. */
export function parseSudoers(text: string, now: Date): SudoRule[] {
  const aliases = new Map<string, string[]>();
  const rules: SudoRule[] = [];
  const expand = (items: string[], depth = 0): string[] => items.flatMap((i) => (depth < 8 && aliases.has(i) ? expand(aliases.get(i)!, depth + 1) : [i]));
  for (const line of logicalLines(text)) {
    if (/^Defaults\b/.test(line)) continue;
    const a = ALIAS.exec(line);
    if (a) {
      for (const def of a[2]!.split(':')) {
        const eq = def.indexOf('=');
        if (eq > 0) aliases.set(def.slice(0, eq).trim(), list(def.slice(eq + 1)));
      }
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const left = line.slice(0, eq).trim();
    // `users hosts`: the host list is the last whitespace-separated word group.
    const m = /^(.*\S)\s+(\S+)$/.exec(left);
    if (!m) continue;
    const users = expand(list(m[1]!));
    let runas = ['root'];
    const commands: string[] = [];
    let expired = false;
    for (let item of list(line.slice(eq + 1))) {
      const r = /^\(([^)]*)\)\s*/.exec(item);
      if (r) {
        runas = expand(list(r[1]!.split(':')[0] ?? '')).map((x) => x || 'root');
        if (runas.length === 0) runas = ['root'];
        item = item.slice(r[0].length);
      }
      // Options (NOTAFTER=…) and tags (NOPASSWD:) before the command.
      for (;;) {
        const opt = /^([A-Z_]+)=(\S+)\s+/.exec(item);
        if (opt) {
          if (opt[1] === 'NOTAFTER') expired = notAfterPassed(opt[2]!, now);
          item = item.slice(opt[0].length);
          continue;
        }
        const tag = /^[A-Z_]+:\s*/.exec(item);
        if (tag) {
          item = item.slice(tag[0].length);
          continue;
        }
        break;
      }
      if (item.startsWith('!')) continue;
      commands.push(...expand([item.replace(/\s+/g, ' ')]));
    }
    if (!expired) rules.push({ users, runas, commands });
  }
  return rules;
}

function notAfterPassed(v: string, now: Date): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(v);
  if (!m) return false;
  const at = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
  return at <= now.getTime();
}

/** Does the rule let its users run `command` (`ALL`, `/path` or `/path args`) as `runas`? */
export function ruleGrants(rule: SudoRule, runas: string, command: string): boolean {
  if (!rule.runas.includes('ALL') && !rule.runas.includes(runas)) return false;
  const path = command.split(' ')[0]!;
  return rule.commands.some((c) => c === 'ALL' || c === command || (command !== 'ALL' && c === path));
}
