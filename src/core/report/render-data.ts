// The access report as JSON and CSV, streamed: each row is written as it is
// read, and the JSON's summary follows the rows (it is only known then).

import type { AccessRow } from './access-rows.js';
import { createSummary, type AccessReportQuery } from './access-report.js';

export interface ReportMeta {
  query: AccessReportQuery;
  generatedAt: number;
}

const period = (m: ReportMeta) => ({
  from: new Date(m.query.from).toISOString(),
  to: new Date(m.query.to).toISOString(),
  target: m.query.target ?? null,
  user: m.query.user ?? null,
  generatedAt: new Date(m.generatedAt).toISOString(),
});

/** `{"report":"access","period":{…},"rows":[…],"summary":{…}}`, one row per chunk. */
export async function* renderJson(rows: AsyncIterable<AccessRow>, meta: ReportMeta): AsyncGenerator<string> {
  const summary = createSummary();
  yield `{"report":"access","period":${JSON.stringify(period(meta))},"rows":[`;
  let first = true;
  for await (const r of rows) {
    summary.add(r);
    yield `${first ? '\n' : ',\n'}${JSON.stringify(r)}`;
    first = false;
  }
  yield `\n],"summary":${JSON.stringify(summary.result())}}\n`;
}

export const csvColumns = [
  'requestId',
  'requestedAt',
  'requester',
  'profile',
  'target',
  'mode',
  'policy',
  'durationMs',
  'reason',
  'ticket',
  'requestStatus',
  'approval',
  'approvers',
  'decidedAt',
  'decidedBy',
  'decisionComment',
  'timeToApprovalMs',
  'grantId',
  'account',
  'grants',
  'grantStatus',
  'activatedAt',
  'extensions',
  'endedAt',
  'endCause',
  'endedBy',
  'removalConfirmedAt',
  'removalExisted',
  'revokeFailingSince',
  'revokeFailingUntil',
  'revokeFailingMs',
  'breakGlassReason',
  'breakGlassReviewedAt',
  'breakGlassReviewedBy',
  'breakGlassReviewComment',
  'sessions',
] as const satisfies readonly (keyof AccessRow)[];

/**
 * RFC 4180 quoting; a cell a spreadsheet would run as a formula (= + - @, tab,
 * carriage return first) gets a leading apostrophe, so a reason cannot
 * become a formula in the auditor's spreadsheet.
 */
export function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function cellText(r: AccessRow, c: (typeof csvColumns)[number]): string {
  switch (c) {
    case 'approvers':
      return r.approvers.map((a) => `${a.user} ${a.decision} ${a.at}${a.comment ? `: ${a.comment}` : ''}`).join('; ');
    case 'grants':
      return r.grants.join(' ');
    case 'extensions':
      return r.extensions.map((e) => `${e.at} +${e.by} by ${e.actor} until ${e.expiresAt ?? '?'}`).join('; ');
    case 'sessions':
      return r.sessions.map((s) => `${s.id} ${s.startedAt}..${s.endedAt ?? ''} ${s.link}`).join('; ');
    default: {
      const v = r[c];
      return v === null ? '' : String(v);
    }
  }
}

/** A header line, then one line per row (CRLF, as RFC 4180 has it). */
export async function* renderCsv(rows: AsyncIterable<AccessRow>): AsyncGenerator<string> {
  yield `${csvColumns.join(',')}\r\n`;
  for await (const r of rows) yield `${csvColumns.map((c) => csvCell(cellText(r, c))).join(',')}\r\n`;
}
