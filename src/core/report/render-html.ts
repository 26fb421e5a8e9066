// The access report as one self-contained HTML page: inline CSS only (no
// script, no font, no image, nothing fetched), print styles for paper and
// PDF, every string escaped. The summary comes first, so the rows are read
// twice (once to sum them up, once to list them) rather than held.

import { formatDuration } from '../duration.js';
import type { AccessRow } from './access-rows.js';
import { createSummary, type AccessSummary } from './access-report.js';
import type { ReportMeta } from './render-data.js';

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => entities[c]!);
}

const ms = (v: number | null) => (v === null ? '' : v < 1000 ? `${v}ms` : formatDuration(Math.round(v / 1000) * 1000));
const at = (v: string | null) => (v === null ? '' : v.replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

const style = `
  body { font: 13px/1.4 system-ui, sans-serif; color: #111; margin: 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 20px 0 6px; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 12px; }
  th, td { border: 1px solid #bbb; padding: 3px 5px; text-align: left; vertical-align: top; }
  th { background: #eee; } td.n { text-align: right; }
  .muted { color: #555; } .bad { color: #a00; font-weight: 600; }
  ul { margin: 0; padding-left: 16px; }
  .rows td { font-size: 11px; word-break: break-word; }
  @page { size: A4 landscape; margin: 12mm; }
  @media print {
    body { margin: 0; }
    thead { display: table-header-group; }
    tr, .summary table { break-inside: avoid; }
    h2 { break-after: avoid; }
    .rows-section { break-before: page; }
  }
`;

function kv(rows: [string, string][]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function counts(title: string, m: Record<string, number>): string {
  const e = Object.entries(m).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  if (e.length === 0) return `<h2>${escapeHtml(title)}</h2><p class="muted">none</p>`;
  return `<h2>${escapeHtml(title)}</h2><table><thead><tr><th>name</th><th>grants</th></tr></thead><tbody>${e
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td class="n">${v}</td></tr>`)
    .join('')}</tbody></table>`;
}

function summaryHtml(s: AccessSummary): string {
  const list = <T>(items: T[], cols: string[], cells: (t: T) => string[]) =>
    items.length === 0
      ? '<p class="muted">none</p>'
      : `<table><thead><tr>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${items
          .map(
            (t) =>
              `<tr>${cells(t)
                .map((c) => `<td>${escapeHtml(c)}</td>`)
                .join('')}</tr>`,
          )
          .join('')}</tbody></table>`;
  return `<section class="summary"><h2>Summary</h2>${kv([
    ['requests', String(s.requests)],
    ['grants', String(s.grants)],
    ['approved by people', String(s.timeToApproval.count)],
    ['median time to approval', escapeHtml(ms(s.timeToApproval.medianMs))],
    ['p95 time to approval', escapeHtml(ms(s.timeToApproval.p95Ms))],
    ['denied requests', String(s.denied.count)],
    ['expired unapproved', String(s.expiredUnapproved.count)],
    ['break-glass uses', String(s.breakGlass.uses)],
    ['open break-glass reviews', String(s.breakGlass.openReviews.length)],
    ['revoke-failing incidents', String(s.revokeFailing.length)],
  ])}
${counts('Grants by profile', s.grantsByProfile)}
${counts('Grants by person', s.grantsByPerson)}
<h2>Longest grants</h2>${list(s.longestGrants, ['grant', 'person', 'profile', 'active'], (g) => [g.grantId, g.requester, g.profile, ms(g.activeMs)])}
<h2>Revoke-failing incidents</h2>${list(s.revokeFailing, ['grant', 'target', 'account', 'since', 'until', 'duration'], (i) => [
    i.grantId,
    i.target,
    i.account ?? '',
    at(i.since),
    i.until === null ? 'still failing' : at(i.until),
    ms(i.durationMs),
  ])}
<h2>Open break-glass reviews</h2>${list(s.breakGlass.openReviews, ['grant', 'person', 'profile', 'at', 'reason'], (b) => [
    b.grantId,
    b.requester,
    b.profile,
    at(b.at),
    b.reason ?? '',
  ])}
<h2>Denied requests</h2>${list(s.denied.first, ['request', 'person', 'profile', 'at'], (d) => [d.requestId, d.requester, d.profile, at(d.at)])}
<h2>Expired unapproved</h2>${list(s.expiredUnapproved.first, ['request', 'person', 'profile', 'at'], (d) => [d.requestId, d.requester, d.profile, at(d.at)])}
</section>`;
}

const rowHeader = ['request', 'who / what', 'reason / ticket', 'approval', 'grant', 'extensions', 'end', 'sessions'];

function rowHtml(r: AccessRow): string {
  const li = (items: string[]) => (items.length ? `<ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul>` : '');
  const e = escapeHtml;
  const approval =
    r.approval === 'auto'
      ? `auto (policy ${e(r.policy)})`
      : r.approval === 'break-glass'
        ? `<span class="bad">break-glass</span>${r.breakGlassReviewedAt ? `<br>reviewed ${e(at(r.breakGlassReviewedAt))} by ${e(r.breakGlassReviewedBy)}: ${e(r.breakGlassReviewComment)}` : '<br><span class="bad">review open</span>'}`
        : `${e(r.approval)} (policy ${e(r.policy)})`;
  const approvers = li(r.approvers.map((a) => `${e(a.user)} ${e(a.decision)} ${e(at(a.at))}${a.comment ? `: ${e(a.comment)}` : ''}`));
  const end = [
    r.endCause ? `${e(r.endCause)}${r.endedBy ? ` by ${e(r.endedBy)}` : ''} ${e(at(r.endedAt))}` : '',
    r.removalConfirmedAt ? `removal confirmed ${e(at(r.removalConfirmedAt))}${r.removalExisted === false ? ' (already gone)' : ''}` : '',
    r.revokeFailingSince
      ? `<span class="bad">revoke failing ${e(at(r.revokeFailingSince))} to ${r.revokeFailingUntil ? e(at(r.revokeFailingUntil)) : 'now'} (${e(ms(r.revokeFailingMs))})</span>`
      : '',
  ].filter(Boolean);
  const cells = [
    `${e(r.requestId)}<br>${e(at(r.requestedAt))}<br>${e(r.requestStatus)}`,
    `${e(r.requester)}<br>${e(r.profile)} on ${e(r.target)}<br>${e(r.mode)} ${e(ms(r.durationMs))}`,
    `${e(r.reason)}${r.ticket ? `<br>ticket ${e(r.ticket)}` : ''}`,
    `${approval}${approvers}${r.decisionComment ? `<br>${e(r.decisionComment)}` : ''}`,
    r.grantId
      ? `${e(r.grantId)}<br>${e(r.account)}: ${e(r.grants.join(', '))}<br>${e(r.grantStatus)}${r.activatedAt ? `<br>active ${e(at(r.activatedAt))}` : ''}`
      : '',
    li(r.extensions.map((x) => `${e(at(x.at))} +${e(x.by)} by ${e(x.actor)}`)),
    end.join('<br>'),
    li(r.sessions.map((s) => `<a href="${e(s.link)}">${e(s.id)}</a> ${e(at(s.startedAt))}${s.endReason ? ` (${e(s.endReason)})` : ''}`)),
  ];
  return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>\n`;
}

/** `rows()` is called twice: for the summary, then for the table. */
export async function* renderHtml(rows: () => AsyncIterable<AccessRow>, meta: ReportMeta): AsyncGenerator<string> {
  const summary = createSummary();
  for await (const r of rows()) summary.add(r);
  const q = meta.query;
  const title = `Access report ${at(new Date(q.from).toISOString())} to ${at(new Date(q.to).toISOString())}`;
  yield `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title><style>${style}</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p class="muted">Stint access report: every request made in the period${q.target ? `, target ${escapeHtml(q.target)}` : ''}${q.user ? `, user ${escapeHtml(q.user)}` : ''}; generated ${escapeHtml(at(new Date(meta.generatedAt).toISOString()))}.</p>
${summaryHtml(summary.result())}
<section class="rows-section"><h2>Requests and grants</h2>
<table class="rows"><thead><tr>${rowHeader.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>
`;
  let n = 0;
  for await (const r of rows()) {
    n++;
    yield rowHtml(r);
  }
  yield `</tbody></table>${n === 0 ? '<p class="muted">No requests in this period.</p>' : ''}</section>\n</body></html>\n`;
}
