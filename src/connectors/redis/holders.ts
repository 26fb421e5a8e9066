// Standing-privilege discovery on Redis: which ACL users' rules grant what a
// profile's rules grant. Pure: reads parsed ACL GETUSER replies. A rule set
// holds a grant when it carries the same token or a broader one Redis writes
// in its normalised form: `~*` covers every key pattern (`%R~*`/`%W~*` the
// read/write ones), `&*` every channel, `+@all` every command, `+cmd` every
// `+cmd|sub`. Category membership of single commands (`+@read` covering
// `+get`) is not derived. Deny rules (`-…`) grant nothing and hold nothing.

import type { Holder } from '../contract.js';
import { isMarked, type AclRuleSet, type AclUser } from './acl-rules.js';

const words = (s: string) => s.split(' ').filter((w) => w.length > 0);

/** Does one rule set (root or selector) grant `grant`? */
export function ruleSetHolds(rules: AclRuleSet, grant: string): boolean {
  const key = /^(~|%R~|%W~)(.*)$/.exec(grant);
  if (key) {
    const have = new Set(words(rules.keys));
    const wide = key[1] === '~' ? ['~*'] : ['~*', `${key[1]}*`];
    return have.has(grant) || wide.some((w) => have.has(w)) || (key[1] !== '~' && have.has(`~${key[2]}`));
  }
  if (grant.startsWith('&')) {
    const have = new Set(words(rules.channels));
    return have.has(grant) || have.has('&*');
  }
  if (grant.startsWith('+')) {
    // Later rules override earlier ones; the last rule mentioning the command (or +@all/-@all) decides.
    const cmds = words(rules.commands);
    const parent = grant.includes('|') ? grant.slice(0, grant.indexOf('|')) : null;
    for (let i = cmds.length - 1; i >= 0; i--) {
      const t = cmds[i]!;
      if (t === grant || t === '+@all' || (parent !== null && t === parent)) return true;
      if (t === `-${grant.slice(1)}` || t === '-@all' || (parent !== null && t === `-${parent.slice(1)}`)) return false;
    }
    return false;
  }
  return false;
}

/**
 * Holders of `grants` among `users` (name → parsed user). Users that are off
 * cannot log in and hold nothing; the admin is left out. Root rules are a
 * direct holding; so is a selector (the user's own rules). Redis records no
 * author, and a Stint selector is revoked only as the whole set it was granted
 * with, so grantedByStint is null: reconcile reports, never revokes, here.
 */
export function holdersIn(users: ReadonlyMap<string, AclUser>, grants: readonly string[], marker: string, admin: string): Holder[] {
  const out: Holder[] = [];
  for (const [name, user] of users) {
    if (name === admin || !user.flags.includes('on')) continue;
    const managed = isMarked(user, marker);
    for (const grant of grants) {
      const sets = [user, ...user.selectors];
      const hit = sets.find((s) => ruleSetHolds(s, grant));
      if (!hit) continue;
      out.push({ account: name, grant, managed, grantedByStint: null });
    }
  }
  return out;
}
