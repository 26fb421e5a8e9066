// Reconcile: compares each target with the store. Marked accounts no live
// grant backs are removed (drift), memberships Stint granted and no live grant
// backs are revoked (own-account drift), active grants whose access vanished
// are flagged, and privileges held outside Stint are reported as standing.
// Nothing unmarked is touched, except memberships Stint's admin granted.
//
// Races, and why they are harmless:
// - Active grants are read BEFORE the target is listed, and each missing
//   finding is confirmed by re-reading the grant afterwards: a grant still
//   active then was active (so provisioned) before the listing, so its access
//   should have been seen.
// - Live grants are read AFTER the target is listed: a grant is written as
//   `provisioning` before the target is touched, so every account or
//   membership a grant made before the listing is backed in that read.
// - Right before acting, the store is read again for that one account
//   (compare-and-act). For own accounts this happens under the same per-account
//   lock the grant service uses when given `grantLocks`, and after a revoke the
//   store is read once more: a grant that appeared meanwhile (another broker)
//   gets its membership back at once instead of waiting for a failure.

import type { BypassCheck, Holder } from '../../connectors/contract.js';
import { notFound } from '../errors.js';
import { KeyedMutex } from '../keyed-mutex.js';
import type { Clock, Connector, ConnectorRegistry, Logger, Store } from '../ports.js';
import { safeErrorText } from '../scrub.js';
import type { Catalog, TargetDef } from '../types.js';
import { liveGrantStatuses } from '../types.js';
import { diffTarget, isBacked, type AccountFacts, type MissingFinding, type StandingFinding } from './diff.js';
import { ownAccountOf } from '../identity/own-account.js';
import { DAY_MS, ZSP_RETENTION_DAYS, overallScore, zspScore, type ZspScore, type ZspSnapshot } from './zsp.js';

/** Where a non-dry run keeps its scores (store.ts's ZspSnapshotStore); absent: scores are reported, not kept. */
export interface ZspSnapshotSink {
  insertZspSnapshots(rows: ZspSnapshot[]): Promise<void>;
  pruneZspSnapshots(before: number): Promise<number>;
}
import { attributeUnknownAuthors } from './authorship.js';

export interface ReconcileServiceDeps {
  store: Pick<Store, 'listGrants' | 'getGrant' | 'appendAudit'>;
  catalog: () => Catalog;
  connectors: ConnectorRegistry;
  clock: Clock;
  log: Logger;
  /** The grant service's per-account lock (key `${target}\0${account}`), so a revoke never interleaves with a grant on one account. */
  grantLocks?: Pick<KeyedMutex, 'run'>;
  snapshots?: ZspSnapshotSink;
}

export interface ReconcileInput {
  /** One target; all targets when absent. */
  target?: string;
  dryRun: boolean;
  actor: string;
}

export interface DriftRemoved {
  account: string;
  /** False in a dry run (it would be removed) or when a live grant appeared at the last moment. */
  removed: boolean;
  existed: boolean | null;
  terminatedSessions: number;
}

export interface DriftRevoked {
  account: string;
  grant: string;
  /** The user whose own account this is, when the config names one. */
  user: string | null;
  revoked: boolean;
}

export type AccountMissing = MissingFinding;

export interface ReconcileError {
  /** `connect`: the target could not be listed at all; `internal`: the store or the broker failed; others name the step. */
  stage: 'connect' | 'internal' | 'list-holders' | 'describe-account' | 'remove-account' | 'revoke-membership' | 'regrant';
  account?: string;
  message: string;
}

export interface TargetReport {
  target: string;
  kind: string;
  checkedAt: number;
  dryRun: boolean;
  /** False when the target could not be listed; then nothing else was checked. */
  reachable: boolean;
  managedAccounts: number;
  driftRemoved: DriftRemoved[];
  driftRevoked: DriftRevoked[];
  accountMissing: AccountMissing[];
  standing: StandingFinding[];
  /** Zero-standing-privilege score of the target (zsp.ts, docs/zsp.md). */
  zsp: ZspScore;
  /**
   * The target's own settings that keep issued accounts inside Stint (connectors with checkBypass; [] for
   * the others): `fail` lets an account be used around Stint, `unknown` could not be verified.
   */
  bypass: BypassCheck[];
  errors: ReconcileError[];
  notes: string[];
}

export interface ReconcileReport {
  dryRun: boolean;
  startedAt: number;
  finishedAt: number;
  targets: TargetReport[];
  /** The targets' scores pooled (zsp.ts overallScore). */
  zsp: ZspScore;
}

const live = liveGrantStatuses;
const lockKey = (target: string, account: string) => `${target}\u0000${account}`;

export function createReconcileService(deps: ReconcileServiceDeps) {
  const { store, connectors, clock, log } = deps;
  const grantLocks = deps.grantLocks ?? new KeyedMutex();
  // Two runs on one target in this broker (periodic + API) take turns, so findings are audited once per run.
  const targetRuns = new KeyedMutex();

  async function reconcile(input: ReconcileInput): Promise<ReconcileReport> {
    const catalog = deps.catalog();
    let targets: TargetDef[];
    if (input.target !== undefined) {
      const t = catalog.targets.get(input.target);
      if (!t) throw notFound(`target ${input.target} is not configured`);
      targets = [t];
    } else {
      targets = [...catalog.targets.values()];
    }
    const startedAt = clock.now();
    // Targets run side by side: one slow or unreachable target does not hold up the others.
    const reports = await Promise.all(targets.map((t) => targetRuns.run(t.name, () => reconcileTarget(catalog, t, input))));
    if (!input.dryRun) await keepScores(reports);
    return { dryRun: input.dryRun, startedAt, finishedAt: clock.now(), targets: reports, zsp: overallScore(reports.map((r) => r.zsp)) };
  }

  /** Stores each measured target's score (the dashboard's trend, the metric) and prunes old ones; a failure is logged, not fatal. */
  async function keepScores(reports: TargetReport[]): Promise<void> {
    if (!deps.snapshots) return;
    const rows = reports.flatMap((r) =>
      r.zsp.score === null ? [] : [{ target: r.target, at: r.checkedAt, score: r.zsp.score, holders: r.zsp.holders, standingHolders: r.zsp.standingHolders }],
    );
    try {
      if (rows.length > 0) await deps.snapshots.insertZspSnapshots(rows);
      await deps.snapshots.pruneZspSnapshots(clock.now() - ZSP_RETENTION_DAYS * DAY_MS);
    } catch (err) {
      log.warn({ error: safeErrorText(err) }, 'reconcile could not store zero-standing-privilege scores');
    }
  }

  async function reconcileTarget(catalog: Catalog, t: TargetDef, input: ReconcileInput): Promise<TargetReport> {
    const report: TargetReport = {
      target: t.name,
      kind: t.kind,
      checkedAt: clock.now(),
      dryRun: input.dryRun,
      reachable: true,
      managedAccounts: 0,
      driftRemoved: [],
      driftRevoked: [],
      accountMissing: [],
      standing: [],
      zsp: { score: null, holders: 0, standingHolders: 0 },
      bypass: [],
      errors: [],
      notes: [],
    };
    const fail = (stage: ReconcileError['stage'], err: unknown, account?: string) => {
      const message = safeErrorText(err);
      report.errors.push(account === undefined ? { stage, message } : { stage, account, message });
      log.warn({ target: t.name, stage, account, error: message }, 'reconcile step failed');
    };
    const progress = { listed: false };
    try {
      await run(catalog, t, input, report, progress, fail);
    } catch (err) {
      // Anything unexpected (the store failing) is an entry, not an exception.
      if (!progress.listed) report.reachable = false;
      fail('internal', err);
    }
    log.info(
      {
        target: t.name,
        dryRun: input.dryRun,
        managed: report.managedAccounts,
        driftRemoved: report.driftRemoved.length,
        driftRevoked: report.driftRevoked.length,
        accountMissing: report.accountMissing.length,
        standing: report.standing.length,
        errors: report.errors.length,
      },
      'reconcile finished',
    );
    return report;
  }

  async function run(
    catalog: Catalog,
    t: TargetDef,
    input: ReconcileInput,
    report: TargetReport,
    progress: { listed: boolean },
    fail: (stage: ReconcileError['stage'], err: unknown, account?: string) => void,
  ): Promise<void> {
    let connector: Connector;
    try {
      connector = connectors.get(t.name);
    } catch (err) {
      report.reachable = false;
      fail('connect', err);
      return;
    }
    const profiles = [...catalog.profiles.values()].filter((p) => p.target === t.name);
    const profileGrants = [...new Set(profiles.flatMap((p) => p.grants))].sort();

    // 1. Active grants, before the target is looked at (see the header).
    const activeBefore = await store.listGrants({ target: t.name, statuses: ['active'] });

    // 2. The target.
    let managed: string[];
    try {
      managed = (await connector.listManaged()).accounts.map((a) => a.account);
    } catch (err) {
      report.reachable = false;
      fail('connect', err);
      return;
    }
    progress.listed = true;
    report.managedAccounts = managed.length;
    if (connector.checkBypass) {
      try {
        report.bypass = await connector.checkBypass();
      } catch (err) {
        report.bypass = [{ check: 'bypass', status: 'unknown', message: `cannot verify: ${safeErrorText(err)}` }];
      }
      for (const b of report.bypass.filter((x) => x.status !== 'pass'))
        log.warn({ target: t.name, check: b.check, status: b.status, message: b.message }, 'reconcile: the target may let accounts be used around Stint');
    }
    let holders: Holder[] | null = null;
    if (!connector.listHolders) {
      report.notes.push(`the ${t.kind} connector cannot list who holds privileges: standing privileges and own-account drift were not checked`);
    } else if (profileGrants.length > 0) {
      try {
        holders = (await connector.listHolders({ grants: profileGrants })).holders;
      } catch (err) {
        fail('list-holders', err);
        report.notes.push('standing privileges and own-account drift were not checked (listing holders failed)');
      }
    } else {
      holders = [];
    }
    // Kinds that cannot tell who added a membership (ad): the store says which ones Stint gave (authorship.ts).
    if (holders) holders = await attributeUnknownAuthors(holders, { store, target: t.name });
    const ownAccounts = new Map<string, AccountFacts>();
    for (const account of new Set(activeBefore.filter((g) => g.mode === 'own-account').map((g) => g.account))) {
      try {
        const info = await connector.describeAccount({ account });
        ownAccounts.set(account, { exists: info.exists, grants: info.grants });
      } catch (err) {
        fail('describe-account', err, account);
      }
    }

    // 3. Live grants, after the target was looked at.
    const liveGrants = await store.listGrants({ target: t.name, statuses: live });

    const plan = diffTarget({ adminAccount: t.adminUser, managed, liveGrants, activeBefore, ownAccounts, holders });
    report.standing = plan.standing;
    report.zsp = zspScore({ adminAccount: t.adminUser, managed, liveGrants, holders });

    for (const m of plan.missing) {
      // Confirm: still active now means it was active (provisioned) before the target was listed.
      const cur = await store.getGrant(m.grantId);
      if (cur?.status !== 'active') continue;
      report.accountMissing.push(m);
      if (input.dryRun) continue;
      await store.appendAudit({
        at: clock.now(),
        actor: input.actor,
        action: 'reconcile.account-missing',
        requestId: cur.requestId,
        grantId: cur.id,
        target: t.name,
        subjectUser: cur.user,
        details: { account: m.account, mode: m.mode, problem: m.problem, missingGrants: m.missingGrants },
      });
    }

    for (const account of plan.removeAccounts) {
      if (input.dryRun) {
        report.driftRemoved.push({ account, removed: false, existed: null, terminatedSessions: 0 });
        continue;
      }
      await removeDrift(t, account, input.actor, report, fail);
    }

    const ownerOf = ownerIndex(catalog, t.name);
    const terminateFor = new Set(profiles.filter((p) => p.terminateSessionsOnRevoke).flatMap((p) => p.grants));
    for (const m of plan.revokeMemberships) {
      const user = ownerOf.get(m.account) ?? null;
      if (input.dryRun) {
        report.driftRevoked.push({ ...m, user, revoked: false });
        continue;
      }
      await revokeDrift(t, m, user, terminateFor.has(m.grant), input.actor, report, fail);
    }
  }

  async function removeDrift(
    t: TargetDef,
    account: string,
    actor: string,
    report: TargetReport,
    fail: (stage: ReconcileError['stage'], err: unknown, account?: string) => void,
  ): Promise<void> {
    // Compare-and-act: never remove an account a live grant names, however it got there.
    const before = await store.listGrants({ target: t.name, account, statuses: live });
    if (before.length > 0) {
      report.notes.push(`${account}: a live grant (${before[0]!.id}) appeared meanwhile; left in place`);
      return;
    }
    let r;
    try {
      r = await connectors.get(t.name).removeAccount({ account });
    } catch (err) {
      fail('remove-account', err, account);
      return;
    }
    report.driftRemoved.push({ account, removed: true, existed: r.existed, terminatedSessions: r.terminatedSessions });
    await store.appendAudit({
      at: clock.now(),
      actor,
      action: 'reconcile.drift-removed',
      target: t.name,
      details: { account, target: t.name, existed: r.existed, terminatedSessions: r.terminatedSessions },
    });
    const after = await store.listGrants({ target: t.name, account, statuses: live });
    if (after.length > 0) {
      // Broker-chosen names are random, so this needs a name collision within milliseconds; say so loudly if it ever happens.
      const message = `a live grant (${after[0]!.id}) names ${account}, which reconcile removed as drift a moment ago; its provisioning or revocation will report the outcome`;
      report.errors.push({ stage: 'remove-account', account, message });
      log.error({ target: t.name, account, grantId: after[0]!.id }, message);
    }
  }

  async function revokeDrift(
    t: TargetDef,
    m: { account: string; grant: string },
    user: string | null,
    terminateSessions: boolean,
    actor: string,
    report: TargetReport,
    fail: (stage: ReconcileError['stage'], err: unknown, account?: string) => void,
  ): Promise<void> {
    const connector = connectors.get(t.name);
    await grantLocks.run(lockKey(t.name, m.account), async () => {
      const before = await store.listGrants({ target: t.name, account: m.account, statuses: live });
      if (isBacked(before, m.account, m.grant)) {
        report.notes.push(`${m.account}: ${m.grant} is now held by a live grant; left in place`);
        return;
      }
      let r;
      try {
        r = await connector.revokeFromAccount({ account: m.account, grants: [m.grant], terminateSessions });
      } catch (err) {
        fail('revoke-membership', err, m.account);
        return;
      }
      report.driftRevoked.push({ ...m, user, revoked: true });
      await store.appendAudit({
        at: clock.now(),
        actor,
        action: 'reconcile.drift-revoked',
        target: t.name,
        subjectUser: user,
        details: { account: m.account, grant: m.grant, target: t.name, terminatedSessions: r.terminatedSessions },
      });
      // A grant another broker wrote meanwhile (its GRANT was a no-op on the membership we just revoked) gets it back.
      const after = await store.listGrants({ target: t.name, account: m.account, statuses: ['provisioning', 'active'] });
      const needing = after.filter((g) => g.roles.includes(m.grant));
      if (needing.length > 0) {
        try {
          await connector.grantToAccount({ account: m.account, grants: [m.grant] });
          report.notes.push(`${m.account}: ${m.grant} was granted again for live grant ${needing[0]!.id}, which appeared during the revoke`);
        } catch (err) {
          fail('regrant', err, m.account);
        }
      }
    });
  }

  return { reconcile };
}

/** Own account name on a target → the user it belongs to. */
function ownerIndex(catalog: Catalog, target: string): Map<string, string> {
  const out = new Map<string, string>();
  const def = catalog.targets.get(target);
  for (const u of catalog.users.values()) {
    const a = def ? ownAccountOf(u, def) : u.accounts[target];
    if (a !== undefined && !out.has(a)) out.set(a, u.name);
  }
  return out;
}

export type ReconcileService = ReturnType<typeof createReconcileService>;
