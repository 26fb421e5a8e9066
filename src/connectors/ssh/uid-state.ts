// UID bookkeeping, so that a new account never inherits files of an old one.
//
// The host keeps an append-only log, `<stateDir>/uids.log`, one line per event:
//   used <uid> <name>   written BEFORE useradd (a crash leaves the UID marked)
//   retired <uid>       written after userdel (files of it may remain anywhere)
//   free <uid>          written after a scan found no file owned by it
// The latest line for a UID wins. Appends of one short line are atomic
// (O_APPEND), so several brokers can share the log without a lock; two of them
// picking the same UID is settled by useradd itself (exit 4, "UID not unique"),
// after which the loser picks again.
//
// A UID is handed out if it is in the configured range, in no passwd entry,
// and never logged or logged `free`. Only when no such UID is left does the
// connector scan the filesystems for files of the retired UIDs (one `find`
// for all of them) and free those with none: the cost of a scan is paid once
// per exhaustion of the range, never on an ordinary create or remove.

export type UidState = 'used' | 'retired' | 'free';

export function parseUidLog(text: string): Map<number, UidState> {
  const out = new Map<number, UidState>();
  for (const line of text.split('\n')) {
    const m = /^(used|retired|free) (\d{1,10})(?: .*)?$/.exec(line.trim());
    if (m) out.set(Number(m[2]), m[1] as UidState);
  }
  return out;
}

export interface UidRange {
  uidMin: number;
  uidMax: number;
}

/** Lowest UID free to hand out, or null when a reclaim scan is needed. */
export function pickUid(
  range: UidRange,
  inPasswd: ReadonlySet<number>,
  log: ReadonlyMap<number, UidState>,
  skip: ReadonlySet<number> = new Set(),
): number | null {
  for (let uid = range.uidMin; uid <= range.uidMax; uid++) {
    if (inPasswd.has(uid) || skip.has(uid)) continue;
    const s = log.get(uid);
    if (s === undefined || s === 'free') return uid;
  }
  return null;
}

/** UIDs in the range that were used before and have no account now: candidates for a scan. */
export function reclaimCandidates(range: UidRange, inPasswd: ReadonlySet<number>, log: ReadonlyMap<number, UidState>): number[] {
  const out: number[] = [];
  for (const [uid, s] of log) {
    if (uid >= range.uidMin && uid <= range.uidMax && s !== 'free' && !inPasswd.has(uid)) out.push(uid);
  }
  return out.sort((a, b) => a - b);
}

/** Parses `getent passwd` output. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length !== 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === '' || f[3] === '') continue;
    out.push({ name: f[0]!, uid, gid, gecos: f[4]!, home: f[5]!, shell: f[6]! });
  }
  return out;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parseGroups(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length !== 4 || f[2] === '') continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, gid, members: f[3]!.trim() === '' ? [] : f[3]!.trim().split(',') });
  }
  return out;
}
