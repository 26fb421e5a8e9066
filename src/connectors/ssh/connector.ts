// SSH connector: ephemeral Linux accounts and own-account groups/sudo rules on
// a host reached over SSH (ssh2) as an operator account with a narrow set of
// sudo commands (operator-sudoers.ts). See README.md beside this file.
//
// Safety rules, enforced here rather than trusted to callers:
// - names and grants are validated (names.ts) before any command is sent, and
//   every token is single-quoted into the command line (host-scripts.ts);
// - only accounts whose primary group is the marker group AND whose UID is in
//   [uidMin, uidMax] are ever changed, removed or listed as managed;
// - the host gets public keys only; secrets never travel and are scrubbed
//   from every error.

import { TargetError } from '../../core/errors.js';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import type {
  AccountInfo,
  BypassCheck,
  CreateAccountRequest,
  ExtendAccountRequest,
  GrantToAccountRequest,
  ListHoldersRequest,
  ListHoldersResponse,
  ListManagedResponse,
  ManagedAccount,
  RemoveAccountRequest,
  RemoveAccountResponse,
  RevokeFromAccountRequest,
  RevokeFromAccountResponse,
} from '../contract.js';
import { operationError, type KindConnector } from '../kit/operation.js';
import type { KindInput } from '../module.js';
import * as hs from './host-scripts.js';
import { SEP, recordedGroups, sections } from './script-output.js';
import { holdersScript, sshHolders } from './holders.js';
import { authorizedKeysFor, handOverFor } from './account-keys.js';
import {
  SUDOERS_DIR,
  checkEphemeralName,
  checkExistingName,
  cmd,
  dropInName,
  expiryDay,
  expiryFromGecos,
  gecosFor,
  parseDropIns,
  parseGrants,
  renderDropIn,
  type Grant,
} from './names.js';
import type { SshSettings } from './settings.js';
import { judgeSshd } from './sshd-check.js';
import { createSshExec, type ExecResult } from './ssh-exec.js';
import { scrubText, toTargetError } from './errors.js';
import { parseGroups, parsePasswd, parseUidLog, pickUid, reclaimCandidates, type PasswdEntry } from './uid-state.js';

/** The kind's operations; kit/create.ts parses the settings and wraps these (module.ts). */
export function openSsh(input: KindInput<SshSettings>): KindConnector {
  const s = input.settings;
  const target = input.target;
  const marker = s.markerGroup;
  const uidLog = `${s.stateDir}/uids.log`;
  const ownLog = `${s.stateDir}/own.log`;
  const ex = createSshExec({
    host: s.host,
    port: s.port,
    username: input.adminUser,
    privateKey: input.adminSecret,
    hostKeySha256: s.hostKeySha256,
    connectTimeoutMs: s.connectTimeoutMs,
    commandTimeoutMs: s.commandTimeoutMs,
    maxChannels: 8,
  });
  const locks = new KeyedMutex();
  // UIDs being created by this connector right now, so parallel creates pick different ones.
  const reserved = new Set<number>();
  let ready: Promise<number> | null = null;

  const fail = (op: string, account: string | undefined, reason: string, retryable = false) => operationError('ssh', target, op, account, reason, retryable);

  /** Runs a script; a non-zero exit becomes a TargetError naming the failed step. */
  async function sh(op: string, account: string | undefined, script: string, ok: number[] = [0], timeoutMs?: number): Promise<ExecResult> {
    const res = await ex.exec(script, timeoutMs === undefined ? {} : { timeoutMs });
    if (!ok.includes(res.code)) throw scriptError(op, account, res);
    return res;
  }

  function scriptError(op: string, account: string | undefined, res: ExecResult): TargetError {
    const m = /stint-step-failed (\S+) (\d+)/.exec(res.stderr);
    const detail = res.stderr
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('stint-step-failed'))
      .slice(-4)
      .join(' | ')
      .slice(0, 400);
    const where = m ? `step ${m[1]} exited ${m[2]}` : `exit ${res.code}`;
    const retryable = /cannot lock|try again|temporarily unavailable|unable to lock|currently used by process/i.test(res.stderr) || m?.[1] === 'kill-processes';
    const hint = /password is required|not allowed to execute|not in the sudoers|may not run sudo/i.test(res.stderr)
      ? '. The operator account lacks a sudo rule this needs (see src/connectors/ssh/README.md)'
      : '';
    return fail(op, account, `${where}${detail ? `: ${detail}` : ''}${hint}`, retryable);
  }

  /** Marker group's GID; creates the group and the state directory on first use. */
  function markerGid(): Promise<number> {
    ready ??= (async () => {
      const res = await sh(
        'prepare',
        undefined,
        hs.script(
          `getent group ${cmd(marker)} >/dev/null || { ${hs.sudo('groupadd', '-r', marker)}; r=$?; [ "$r" -eq 0 ] || [ "$r" -eq 9 ] || fail groupadd "$r"; }`,
          `[ -d ${cmd(s.stateDir)} ] || ${hs.sudo('install', '-d', '-m', '0755', '-o', 'root', '-g', 'root', s.stateDir)} || fail state-dir $?`,
          `getent group ${cmd(marker)}`,
        ),
      );
      const g = parseGroups(res.stdout).find((x) => x.name === marker);
      if (!g) throw fail('prepare', undefined, `the marker group ${JSON.stringify(marker)} could not be read`);
      return g.gid;
    })().catch((e: unknown) => {
      ready = null;
      throw e;
    });
    return ready;
  }

  const managed = (e: PasswdEntry, gid: number) => e.gid === gid && e.uid >= s.uidMin && e.uid <= s.uidMax;
  const homeOf = (name: string) => `${s.homeBase}/${name}`;

  async function lookup(op: string, name: string): Promise<PasswdEntry | null> {
    const res = await sh(op, name, `getent passwd ${cmd(name)}`, [0, 2]);
    return parsePasswd(res.stdout).find((e) => e.name === name) ?? null;
  }

  function requireManaged(op: string, e: PasswdEntry, gid: number): void {
    if (!managed(e, gid)) {
      throw fail(
        op,
        e.name,
        `the account exists but is not managed by Stint (primary group ${JSON.stringify(marker)} and UID in ${s.uidMin}-${s.uidMax} required); it was left unchanged`,
      );
    }
    if (e.home !== homeOf(e.name)) {
      throw fail(op, e.name, `its home directory is ${JSON.stringify(e.home)}, not ${JSON.stringify(homeOf(e.name))}; it was left unchanged`);
    }
  }

  function parseRequestGrants(op: string, account: string, grants: string[]): Grant[] {
    const g = parseGrants(grants, marker);
    if (typeof g === 'string') throw fail(op, account, g);
    return g;
  }

  async function readDropIn(op: string, account: string, file: string): Promise<string[]> {
    const res = await sh(op, account, `${hs.sudo('cat', `${SUDOERS_DIR}/${file}`)} 2>/dev/null; true`);
    return parseDropIns(res.stdout).flatMap((d) => d.grants);
  }

  /** Frees retired UIDs that own no file any more; returns how many were freed. */
  async function reclaim(op: string, account: string, candidates: number[]): Promise<number[]> {
    const res = await sh(op, account, hs.scanScript(s.reclaimScanPaths, candidates), [0], 30 * 60_000);
    const busy = new Set([...res.stdout.matchAll(/stint-has-files (\d+)/g)].map((m) => Number(m[1])));
    const freed = candidates.filter((u) => !busy.has(u));
    if (freed.length > 0) await sh(op, account, hs.script(...freed.map((u) => hs.appendLog(uidLog, `free ${u}`))));
    return freed;
  }

  async function createOrReset(op: string, req: CreateAccountRequest, key: string, grants: Grant[]): Promise<void> {
    const gid = await markerGid();
    const groups = grants.flatMap((g) => (g.kind === 'group' ? [g.group] : []));
    const sudoGrants = grants.flatMap((g) => (g.kind === 'sudo' ? [g.text] : []));
    const base = {
      name: req.account,
      markerGid: gid,
      home: homeOf(req.account),
      shell: s.shell,
      expiryDay: expiryDay(req.expiresAt, new Date()),
      gecos: gecosFor(req.expiresAt),
      groups,
      authorizedKey: key,
      keysDir: s.authorizedKeysDir,
    };
    for (let attempt = 0; attempt < 8; attempt++) {
      const survey = await sh(
        op,
        req.account,
        `getent passwd; echo ${SEP}; cat ${cmd(uidLog)} 2>/dev/null; echo ${SEP}; ${groups.length ? `getent group ${cmd(...groups)}` : 'true'}; true`,
      );
      const [pw = '', log = '', grp = ''] = sections(survey.stdout);
      const found = new Set(parseGroups(grp).map((g) => g.name));
      const missing = groups.filter((g) => !found.has(g));
      if (missing.length > 0) throw fail(op, req.account, `group ${JSON.stringify(missing[0])} does not exist on the host; nothing was created`);
      const passwd = parsePasswd(pw);
      const entry = passwd.find((e) => e.name === req.account);
      if (entry) {
        requireManaged(op, entry, gid);
        const dropIn = sudoGrants.length
          ? {
              file: dropInName('ephemeral', req.account),
              content: renderDropIn({ account: req.account, uid: entry.uid, grants: sudoGrants }, marker, req.expiresAt),
            }
          : null;
        await sh(op, req.account, hs.resetScript({ ...base, uid: entry.uid, dropInFile: dropInName('ephemeral', req.account), dropIn }));
        return;
      }
      const range = { uidMin: s.uidMin, uidMax: s.uidMax };
      const inPasswd = new Set(passwd.map((e) => e.uid));
      const states = parseUidLog(log);
      let uid = pickUid(range, inPasswd, states, reserved);
      if (uid === null) {
        const candidates = reclaimCandidates(range, inPasswd, states).filter((u) => !reserved.has(u));
        const freed = candidates.length ? await reclaim(op, req.account, candidates) : [];
        uid = freed[0] ?? null;
        if (uid === null) {
          throw fail(
            op,
            req.account,
            `no UID left in ${s.uidMin}-${s.uidMax}: ${candidates.length ? `${candidates.length} retired UIDs still own files (e.g. ${candidates[0]})` : 'all belong to existing accounts'}; widen the range or clean up`,
          );
        }
      }
      reserved.add(uid);
      try {
        const dropIn = sudoGrants.length
          ? { file: dropInName('ephemeral', req.account), content: renderDropIn({ account: req.account, uid, grants: sudoGrants }, marker, req.expiresAt) }
          : null;
        const res = await ex.exec(hs.createScript({ ...base, uid, uidLog, dropIn }));
        if (res.code === 0) return;
        if (res.code === hs.UID_TAKEN || res.code === hs.NAME_TAKEN) continue;
        const err = scriptError(op, req.account, res);
        // Leave nothing half-made: the account is ours (just created with this UID) or absent.
        const now = await lookup(op, req.account).catch(() => null);
        if (now && now.uid === uid && managed(now, gid)) await removeManaged(op, now).catch(() => {});
        throw err;
      } finally {
        reserved.delete(uid);
      }
    }
    throw fail(op, req.account, 'gave up after repeated UID or name conflicts with concurrent creates', true);
  }

  async function removeManaged(op: string, e: PasswdEntry): Promise<number> {
    const res = await sh(
      op,
      e.name,
      hs.removeScript({
        name: e.name,
        uid: e.uid,
        home: e.home,
        keysDir: s.authorizedKeysDir,
        dropInFile: dropInName('ephemeral', e.name),
        uidLog,
        tempDirs: s.tempDirs,
      }),
    );
    const planted = [...res.stdout.matchAll(/^stint-planted-key (\S+)$/gm)].map((m) => m[1]!);
    if (planted.length > 0) {
      input.warn?.(
        `ssh target ${JSON.stringify(target)}: account ${JSON.stringify(e.name)} had written ${planted.map((f) => `~/.ssh/${f}`).join(', ')} ` +
          `(an attempt to log in around Stint; sshd set up as documented never reads it, and it was removed with the account; stint reconcile checks the sshd)`,
      );
    }
    return Number(/stint-sessions (\d+)/.exec(res.stdout)?.[1] ?? 0);
  }

  async function ownState(op: string, account: string): Promise<{ groups: string[]; recorded: Set<string>; sudo: string[] }> {
    const res = await sh(
      op,
      account,
      `id -Gn ${cmd(account)} 2>/dev/null; echo ${SEP}; cat ${cmd(ownLog)} 2>/dev/null; echo ${SEP}; ${hs.sudo('cat', `${SUDOERS_DIR}/${dropInName('own', account)}`)} 2>/dev/null; true`,
    );
    const [ids = '', log = '', drop = ''] = sections(res.stdout);
    return { groups: ids.trim().split(/\s+/).filter(Boolean), recorded: recordedGroups(log, account), sudo: parseDropIns(drop).flatMap((d) => d.grants) };
  }

  function sudoChange(account: string, uid: number, next: string[]): string[] {
    const file = dropInName('own', account);
    if (next.length === 0) return [hs.removeDropIn(file)];
    return [...hs.stageDropIn(file, renderDropIn({ account, uid, grants: next }, marker, null)), hs.activateDropIn(file)];
  }

  return {
    classify: toTargetError,
    publicKeyLogin: true,
    handOver: (req) => handOverFor(req, s),
    // Ephemeral operations take names Stint makes; own-account ones any existing POSIX name.
    checkAccount(account, op) {
      const ephemeral = op === 'createAccount' || op === 'extendAccount' || op === 'removeAccount';
      const why = ephemeral ? checkEphemeralName(account) : checkExistingName(account);
      if (!why) return null;
      return op === 'createAccount' || op === 'removeAccount' ? `account name ${why}; nothing was sent to the host` : `account name ${why}`;
    },

    async createAccount(req: CreateAccountRequest): Promise<void> {
      const op = 'createAccount';
      const grants = parseRequestGrants(op, req.account, req.grants);
      const key = authorizedKeysFor(req);
      if (key instanceof Error) throw fail(op, req.account, key.message);
      await locks.run(req.account, () => createOrReset(op, req, key, grants));
    },

    async extendAccount(req: ExtendAccountRequest): Promise<void> {
      const op = 'extendAccount';
      await locks.run(req.account, async () => {
        const gid = await markerGid();
        const e = await lookup(op, req.account);
        if (!e) throw fail(op, req.account, 'the account does not exist');
        requireManaged(op, e, gid);
        const file = dropInName('ephemeral', e.name);
        const sudoGrants = await readDropIn(op, e.name, file);
        const lines = [`${hs.sudo('usermod', '-e', expiryDay(req.expiresAt, new Date()), '-c', gecosFor(req.expiresAt), e.name)} || fail usermod $?`];
        if (sudoGrants.length) {
          lines.push(
            ...hs.stageDropIn(file, renderDropIn({ account: e.name, uid: e.uid, grants: sudoGrants }, marker, req.expiresAt)),
            hs.activateDropIn(file),
          );
        }
        await sh(op, e.name, hs.script(...lines));
      });
    },

    async removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse> {
      const op = 'removeAccount';
      return locks.run(req.account, async () => {
        const gid = await markerGid();
        const e = await lookup(op, req.account);
        if (!e) return { existed: false, terminatedSessions: 0 };
        requireManaged(op, e, gid);
        return { existed: true, terminatedSessions: await removeManaged(op, e) };
      });
    },

    async grantToAccount(req: GrantToAccountRequest): Promise<void> {
      const op = 'grantToAccount';
      const grants = parseRequestGrants(op, req.account, req.grants);
      await locks.run(req.account, async () => {
        const e = await lookup(op, req.account);
        if (!e) throw fail(op, req.account, 'the account does not exist on the host');
        if (e.uid === 0) throw fail(op, req.account, 'Stint does not manage UID 0');
        const st = await ownState(op, req.account);
        const groups = grants.flatMap((g) => (g.kind === 'group' ? [g.group] : []));
        const check = groups.length ? await sh(op, req.account, `getent group ${cmd(...groups)}; true`) : { stdout: '' };
        const known = new Map(parseGroups(check.stdout).map((g) => [g.name, g]));
        const lines: string[] = [];
        for (const g of groups) {
          const entry = known.get(g);
          if (!entry) throw fail(op, req.account, `group ${JSON.stringify(g)} does not exist on the host`);
          // A membership the account already holds and Stint did not add is
          // standing access: left alone, and never removed by a revoke.
          if (st.groups.includes(g) || entry.gid === e.gid) continue;
          // Recorded first: a crash after it makes a later revoke remove a
          // membership that may not exist, which gpasswd -d reports harmlessly.
          lines.push(hs.appendLog(ownLog, `add ${req.account} ${g}`), `${hs.sudo('gpasswd', '-a', req.account, g)} >/dev/null || fail gpasswd $?`);
        }
        const sudoGrants = grants.flatMap((g) => (g.kind === 'sudo' ? [g.text] : []));
        const next = [...new Set([...st.sudo, ...sudoGrants])];
        if (next.length !== st.sudo.length) lines.push(...sudoChange(req.account, e.uid, next));
        if (lines.length) await sh(op, req.account, hs.script(...lines));
      });
    },

    async revokeFromAccount(req: RevokeFromAccountRequest): Promise<RevokeFromAccountResponse> {
      const op = 'revokeFromAccount';
      const grants = parseRequestGrants(op, req.account, req.grants);
      return locks.run(req.account, async () => {
        const e = await lookup(op, req.account);
        if (!e) return { terminatedSessions: 0 };
        if (e.uid === 0) throw fail(op, req.account, 'Stint does not manage UID 0');
        const st = await ownState(op, req.account);
        const lines: string[] = [];
        for (const g of grants) {
          if (g.kind !== 'group' || !st.recorded.has(g.group)) continue;
          // gpasswd -d exits 3 when the account is not a member: already revoked.
          lines.push(`${hs.sudo('gpasswd', '-d', req.account, g.group)} >/dev/null 2>&1; r=$?; [ "$r" -eq 0 ] || [ "$r" -eq 3 ] || fail gpasswd "$r"`);
          lines.push(hs.appendLog(ownLog, `del ${req.account} ${g.group}`));
        }
        const drop = new Set(grants.flatMap((g) => (g.kind === 'sudo' ? [g.text] : [])));
        const next = st.sudo.filter((t) => !drop.has(t));
        if (next.length !== st.sudo.length) lines.push(...sudoChange(req.account, e.uid, next));
        if (req.terminateSessions) lines.push(hs.countSessions(e.uid), hs.killAll(e.uid));
        if (!lines.length) return { terminatedSessions: 0 };
        const res = await sh(op, req.account, hs.script(...lines));
        return { terminatedSessions: Number(/stint-sessions (\d+)/.exec(res.stdout)?.[1] ?? 0) };
      });
    },

    async listManaged(): Promise<ListManagedResponse> {
      const gid = await markerGid();
      const res = await sh(
        'listManaged',
        undefined,
        `getent passwd; echo ${SEP}; getent group; echo ${SEP}; ${hs.sudo('cat')} ${SUDOERS_DIR}/stint-eph-* 2>/dev/null; true`,
      );
      const [pw = '', grp = '', drop = ''] = sections(res.stdout);
      const mine = parsePasswd(pw).filter((e) => managed(e, gid));
      const groups = parseGroups(grp);
      const sudo = new Map(parseDropIns(drop).map((d) => [`${d.account}:${d.uid}`, d.grants]));
      const accounts: ManagedAccount[] = mine.map((e) => ({
        account: e.name,
        grants: [
          ...groups.filter((g) => g.name !== marker && g.members.includes(e.name)).map((g) => `group:${g.name}`),
          ...(sudo.get(`${e.name}:${e.uid}`) ?? []),
        ],
        expiresAt: expiryFromGecos(e.gecos),
      }));
      return { accounts };
    },

    async listHolders(req: ListHoldersRequest): Promise<ListHoldersResponse> {
      const gid = await markerGid();
      const { stdout } = await sh('listHolders', undefined, holdersScript(ownLog));
      return { holders: sshHolders({ grants: req.grants, marker, admin: input.adminUser, now: new Date(), stdout, isManaged: (e) => managed(e, gid) }) };
    },

    async describeAccount(req: { account: string }): Promise<AccountInfo> {
      const op = 'describeAccount';
      const gid = await markerGid();
      const e = await lookup(op, req.account);
      if (!e) return { account: req.account, exists: false, grants: [] };
      if (managed(e, gid)) {
        const res = await sh(op, req.account, `id -Gn ${cmd(e.name)}`);
        const groups = res.stdout
          .trim()
          .split(/\s+/)
          .filter((g) => g && g !== marker);
        const sudo = await readDropIn(op, e.name, dropInName('ephemeral', e.name));
        return { account: req.account, exists: true, grants: [...groups.map((g) => `group:${g}`), ...sudo] };
      }
      const st = await ownState(op, req.account);
      const groups = [...st.recorded].filter((g) => st.groups.includes(g)).map((g) => `group:${g}`);
      return { account: req.account, exists: true, grants: [...groups, ...st.sudo] };
    },

    async checkBypass(): Promise<BypassCheck[]> {
      const gid = await markerGid();
      const probe = s.probeAccount;
      const res = await sh(
        'checkBypass',
        undefined,
        hs.script(
          // The probe: in the marker group, so sshd -T applies the Match Group block; locked, expired, no key, no home.
          // (useradd -r ignores -e, so usermod sets the expiry.)
          `getent passwd ${cmd(probe)} >/dev/null || { ${hs.sudo('useradd', '-r', '-g', gid, '-N', '-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', '-p', '*', '-c', 'stint sshd settings probe, never logs in', probe)} >/dev/null 2>&1; r=$?; [ "$r" -eq 0 ] || [ "$r" -eq 9 ] || fail probe-account "$r"; [ "$r" -eq 9 ] || ${hs.sudo('usermod', '-e', 1, probe)} || fail probe-expiry $?; }`,
          `getent passwd ${cmd(probe)}; echo ${SEP}`,
          // Where the broker connects from, as this host sees it (Match Address blocks apply to it).
          'addr=${SSH_CONNECTION%% *}',
          `case "$addr" in ''|*[!0-9A-Fa-f.:]*) fail ssh-connection 1;; esac`,
          // The probe's name is a validated POSIX name; $addr only hex digits, dots and colons.
          `out=$(${hs.sudo('sshd', '-T', '-f', s.sshdConfig)} -C "user=${probe},host=$addr,addr=$addr" 2>&1); r=$?`,
          `printf '%s\\n' "$out"; echo "stint-sshd-exit $r"; echo ${SEP}`,
          `stat -c '%u %a' ${cmd(s.authorizedKeysDir)} 2>/dev/null; echo ${SEP}`,
          // Keys an account of the marker group wrote in its own ~/.ssh (inert when the sshd checks pass).
          `${hs.sudo('find', s.homeBase, '-mindepth', 3, '-maxdepth', 3, '-path', `${s.homeBase}/*/.ssh/authorized_keys*`, '-group', marker, '-printf', '%p\\n')} 2>/dev/null; true`,
        ),
      );
      const [pw = '', sshdOut = '', stat = '', planted = ''] = sections(res.stdout);
      const p = parsePasswd(pw).find((e) => e.name === probe);
      if (!p || p.gid !== gid) {
        return [
          {
            check: 'sshd',
            status: 'unknown',
            message: `cannot verify: the probe account ${JSON.stringify(probe)} exists but its primary group is not ${JSON.stringify(marker)}; remove it or set probeAccount`,
          },
        ];
      }
      const exit = /stint-sshd-exit (\d+)\s*$/.exec(sshdOut);
      const text = sshdOut.replace(/stint-sshd-exit \d+\s*$/, '');
      const checks = judgeSshd({
        sshdT: exit?.[1] === '0' ? text : null,
        sshdError: `${text.trim().split('\n').slice(-2).join(' | ')} (exit ${exit?.[1] ?? '?'})`,
        keysDirStat: stat.trim() === '' ? null : stat.trim(),
        keysDir: s.authorizedKeysDir,
        homeBase: s.homeBase,
        probe,
        config: s.sshdConfig,
      });
      for (const f of planted.split('\n').filter(Boolean)) {
        checks.push({
          check: 'planted-key',
          status: 'fail',
          message: `${f} was written by the account itself (a key to log in around Stint; inert only while the sshd checks pass)`,
        });
      }
      return checks;
    },

    async checkHealth(): Promise<void> {
      await sh('checkHealth', undefined, hs.script(`sudo -n -l ${cmd('/usr/sbin/useradd')} >/dev/null 2>&1 || fail sudo-rights $?`));
      await markerGid();
    },

    connectionInfo() {
      return { host: s.host, port: s.port, hostKeySha256: s.hostKeySha256, authentication: 'publickey' };
    },

    async close(): Promise<void> {
      await ex.close();
    },
  };
}

export { scrubText };
