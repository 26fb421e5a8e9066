import type { StandingReportView } from '../../api/views/index.js';
import { usageError } from '../cli-error.js';
import { exitCodes } from '../exit-codes.js';
import { bold, table } from '../output.js';
import type { CommandContext } from '../run.js';

const pct = (score: number | null) => (score === null ? 'not measured' : `${(score * 100).toFixed(1)}%`);

/** `stint report standing`: GET /v1/reports/standing, printed per target. */
export async function reportStanding({ args, out, client }: CommandContext): Promise<number> {
  const target = args.string('target');
  if (target !== undefined && !/^[A-Za-z][A-Za-z0-9_.-]{0,62}$/.test(target)) throw usageError(`--target: ${JSON.stringify(target)} is not a target name`);
  const res = await client().get<StandingReportView>('/v1/reports/standing', target !== undefined ? { target } : undefined);
  const unchecked = res.targets.filter((t) => !t.reachable || !t.checked);
  if (out.json) out.document(res);
  else {
    for (const [i, t] of res.targets.entries()) {
      if (i > 0) out.line();
      const title = `${t.target} (${t.kind}): zero-standing-privilege score ${pct(t.zsp.score)}${t.zsp.score === null ? '' : ` (${t.zsp.standingHolders} of ${t.zsp.holders} holders standing)`}`;
      out.line(out.color ? bold(title) : title);
      if (!t.checked) out.line(`  not checked: ${t.errors[0]?.message ?? t.notes[0] ?? 'holders could not be listed'}`);
      else if (t.standing.length === 0) out.line('  no standing privileges: every holder holds through a live grant');
      else {
        const rows = table(
          t.standing,
          [
            { header: 'PRINCIPAL', value: (s) => s.principal },
            { header: 'GRANT', value: (s) => s.grant },
            { header: 'HOW', value: (s) => (s.how === 'direct' ? 'direct' : `via ${s.via.join(' → ')}`) },
          ],
          out.color,
        );
        for (const line of rows.split('\n')) out.line(`  ${line}`);
      }
    }
    out.line();
    out.line(`overall: ${pct(res.zsp.score)}`);
  }
  if (unchecked.length > 0) {
    out.note(`stint: standing privileges were not checked on ${unchecked.map((t) => t.target).join(', ')}`);
    return exitCodes.unavailable;
  }
  return exitCodes.ok;
}
