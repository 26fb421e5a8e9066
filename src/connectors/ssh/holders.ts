// Standing-privilege discovery on a Linux host: members of a profile's groups
// (supplementary, or as primary group) and users whose sudoers rules grant a
// profile's sudo commands (directly, through a %group, or to ALL). Stint's own
// drop-ins and own-account log say which holdings Stint made. Pure except for
// `holdersScript`, the read-only script whose output `sshHolders` reads.

import type { Holder } from '../contract.js';
import * as hs from './host-scripts.js';
import { SUDOERS_DIR, cmd, parseDropIns, parseGrant } from './names.js';
import { SEP, recordedGroups, sections } from './script-output.js';
import { parseSudoers, ruleGrants } from './sudoers-rules.js';
import { parseGroups, parsePasswd, type PasswdEntry } from './uid-state.js';

const FILE = '--stint-file--';

/** Prints passwd, group, the own-account log, then every sudoers file sudo reads (files with `.` or a trailing `~` are skipped, as sudo does). */
export function holdersScript(ownLog: string): string {
  return [
    `getent passwd; echo ${SEP}; getent group; echo ${SEP}; cat ${cmd(ownLog)} 2>/dev/null; echo ${SEP}`,
    `for f in /etc/sudoers ${SUDOERS_DIR}/*; do case "\${f#${SUDOERS_DIR}/}" in *.*|*~) [ "$f" = /etc/sudoers ] || continue;; esac; [ -f "$f" ] || continue; echo "${FILE}$f"; ${hs.sudo('cat')} -- "$f" 2>/dev/null; echo; done; true`,
  ].join('\n');
}

export interface SshHolderInput {
  stdout: string;
  grants: readonly string[];
  marker: string;
  admin: string;
  isManaged(e: PasswdEntry): boolean;
  now: Date;
}

export function sshHolders(input: SshHolderInput): Holder[] {
  const [pw = '', grp = '', log = '', sudoers = ''] = sections(input.stdout);
  const users = parsePasswd(pw).filter((e) => e.name !== input.admin);
  const groups = parseGroups(grp);
  const files = sudoers.split(FILE).slice(1);
  const out: Holder[] = [];
  const push = (e: PasswdEntry, grant: string, byStint: boolean | null, via: string[]) =>
    out.push({ account: e.name, grant, managed: input.isManaged(e), grantedByStint: via.length > 0 ? false : byStint, ...(via.length > 0 ? { via } : {}) });
  const membersOf = (name: string) => {
    const g = groups.find((x) => x.name === name);
    return g ? users.filter((u) => g.members.includes(u.name) || u.gid === g.gid) : [];
  };

  for (const text of input.grants) {
    const g = parseGrant(text, input.marker);
    if (typeof g === 'string') continue;
    if (g.kind === 'group') {
      for (const u of membersOf(g.group)) push(u, text, input.isManaged(u) || recordedGroups(log, u.name).has(g.group) ? true : false, []);
      continue;
    }
    const command = [g.spec.command, ...g.spec.args].join(' ');
    const seen = new Set<string>();
    for (const file of files) {
      const nl = file.indexOf('\n');
      const path = file.slice(0, nl);
      const body = file.slice(nl + 1);
      const base = path.slice(SUDOERS_DIR.length + 1);
      if (base.startsWith('stint-eph-') || base.startsWith('stint-own-')) {
        // Stint's drop-ins: the grants it wrote, by account and UID.
        for (const d of parseDropIns(body)) {
          const u = users.find((x) => x.name === d.account && x.uid === d.uid);
          if (u && d.grants.includes(text) && !seen.has(u.name)) {
            seen.add(u.name);
            push(u, text, true, []);
          }
        }
        continue;
      }
      for (const rule of parseSudoers(body, input.now)) {
        if (!ruleGrants(rule, g.spec.runas, command)) continue;
        for (const who of rule.users) {
          const found: { u: PasswdEntry; via: string[] }[] = [];
          if (who === 'ALL') found.push(...users.map((u) => ({ u, via: ['ALL'] })));
          else if (who.startsWith('%#')) {
            const grp2 = groups.find((x) => String(x.gid) === who.slice(2));
            if (grp2) found.push(...membersOf(grp2.name).map((u) => ({ u, via: [`%${grp2.name}`] })));
          } else if (who.startsWith('%')) found.push(...membersOf(who.slice(1)).map((u) => ({ u, via: [who] })));
          else if (who.startsWith('#')) found.push(...users.filter((u) => String(u.uid) === who.slice(1)).map((u) => ({ u, via: [] })));
          else found.push(...users.filter((u) => u.name === who).map((u) => ({ u, via: [] })));
          for (const f of found) {
            if (seen.has(f.u.name)) continue;
            seen.add(f.u.name);
            // A rule in a file Stint does not manage: not Stint's, whoever wrote it.
            push(f.u, text, false, f.via);
          }
        }
      }
    }
  }
  return out;
}
