// Reading what the connector's host scripts print: sections split by a
// separator line, and the own-account log of the groups Stint added.

/** Printed between the sections of one script's output. */
export const SEP = '--stint-sep--';
export const sections = (out: string) => out.split(`${SEP}\n`);

/** Stint-added groups of an own account, from the own-account log (latest line wins). */
export function recordedGroups(log: string, account: string): Set<string> {
  const out = new Set<string>();
  for (const line of log.split('\n')) {
    const f = line.trim().split(' ');
    if (f.length !== 3 || f[1] !== account) continue;
    if (f[0] === 'add') out.add(f[2]!);
    if (f[0] === 'del') out.delete(f[2]!);
  }
  return out;
}
