import type { ReconcileTargetView as TargetView, ReconcileView } from '../../api/views/index.js';
import { usageError } from '../cli-error.js';
import { exitCodes } from '../exit-codes.js';
import { bold, table, type Output } from '../output.js';
import { defineCommand } from '../run.js';

export const reconcileCommand = defineCommand({
  name: 'reconcile',
  summary: "Compare targets with Stint's grants: remove drift, report standing privileges (admins)",
  usage: `Usage: stint reconcile [--target T] [--dry-run]

Compares each target (or only T) with the grants Stint holds, now:
  - Stint-marked accounts no live grant backs are removed (drift);
  - memberships Stint granted to own accounts that no live grant backs are
    revoked (drift);
  - active grants whose account or roles vanished on the target are
    reported and audited (the grants themselves are left as they are);
  - privileges of a profile held outside Stint are listed as standing
    privileges (reported only; Stint never touches what it did not create);
  - the target's own settings that would let an account be used around
    Stint are checked (ssh: sshd reading keys an account can write,
    passwords, tunnels): "bypass POSSIBLE" or "cannot verify" (reported only).
The broker also runs this periodically.

Options:
  --target T   only this target
  --dry-run    report what would be removed or revoked; change nothing

Exit codes: 0 when every target was reconciled; 7 when a target could not
be reached or part of the work on it failed (the report says what).

Examples:
  stint reconcile --dry-run
  stint reconcile --target pg-main --json | jq '.targets[].standing'`,
  parse: { options: { target: { type: 'string' }, 'dry-run': { type: 'boolean' } } },
  async run({ args, out, client }) {
    const target = args.string('target');
    if (target !== undefined && !/^[A-Za-z][A-Za-z0-9_.-]{0,62}$/.test(target)) throw usageError(`--target: ${JSON.stringify(target)} is not a target name`);
    const dryRun = args.boolean('dry-run');
    const res = await client().post<ReconcileView>('/v1/reconcile', { ...(target !== undefined ? { target } : {}), dryRun });
    const failed = res.targets.filter((t) => !t.reachable || t.errors.length > 0);
    if (out.json) out.document(res);
    else
      for (const [i, t] of res.targets.entries()) {
        if (i > 0) out.line();
        printTarget(out, t);
      }
    if (failed.length > 0) {
      out.note(`stint: reconcile did not finish on ${failed.map((t) => t.target).join(', ')}; run it again once the target is reachable`);
      return exitCodes.unavailable;
    }
    return exitCodes.ok;
  },
});

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function printTarget(out: Output, t: TargetView): void {
  const title = `${t.target} (${t.kind})${t.dryRun ? ' — dry run, nothing changed' : ''}`;
  out.line(out.color ? bold(title) : title);
  if (!t.reachable) {
    out.line(`  unreachable: ${t.errors[0]?.message ?? 'unknown error'}`);
    return;
  }
  out.line(`  ${plural(t.managedAccounts, 'Stint-managed account')} on the target`);

  const removed = t.driftRemoved;
  if (removed.length === 0) out.line('  drift: no orphaned accounts');
  for (const d of removed) {
    out.line(
      `  drift: ${d.removed ? 'removed' : 'would remove'} account ${d.account}${d.removed && d.existed === false ? ' (already gone)' : ''}${d.terminatedSessions ? `, ended ${plural(d.terminatedSessions, 'session')}` : ''}`,
    );
  }
  for (const d of t.driftRevoked) {
    out.line(`  drift: ${d.revoked ? 'revoked' : 'would revoke'} ${d.grant} from ${d.account}${d.user ? ` (${d.user})` : ''}`);
  }
  if (t.accountMissing.length === 0) out.line("  missing: every active grant's access is on the target");
  for (const m of t.accountMissing) {
    const what = m.problem === 'account' ? `account ${m.account} is gone` : `${m.account} lacks ${m.missingGrants.join(', ')}`;
    out.line(`  missing: grant ${m.grantId} (${m.user}, ${m.profile}): ${what}`);
  }
  if (t.standing.length === 0) {
    out.line('  standing privileges: none found');
  } else {
    out.line(`  standing privileges (${t.standing.length}):`);
    const rows = table(
      t.standing,
      [
        { header: 'PRINCIPAL', value: (s) => s.principal },
        { header: 'GRANT', value: (s) => s.grant },
        { header: 'HOW', value: (s) => (s.how === 'direct' ? 'direct member' : `via ${s.via.join(' → ')}`) },
      ],
      out.color,
    );
    for (const line of rows.split('\n')) out.line(`    ${line}`);
  }
  const bypass = t.bypass.filter((b) => b.status !== 'pass');
  if (t.bypass.length > 0 && bypass.length === 0)
    out.line(`  bypass: the target's settings keep accounts inside Stint (${plural(t.bypass.length, 'check')} passed)`);
  for (const b of bypass) out.line(`  bypass ${b.status === 'fail' ? 'POSSIBLE' : 'cannot verify'} (${b.check}): ${b.message}`);
  for (const e of t.errors) out.line(`  error (${e.stage}${e.account ? ` ${e.account}` : ''}): ${e.message}`);
  for (const n of t.notes) out.line(`  note: ${n}`);
}
