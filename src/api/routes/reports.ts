// Evidence for auditors (core/report/): the access report of a period as
// JSON, CSV or one self-contained HTML page, streamed from the store page by
// page. Admins and auditors only. PDF is rendered from the HTML by the CLI
// (`stint report access --format pdf`).

import { Readable } from 'node:stream';
import { z } from 'zod';
import { forbidden, invalid } from '../../core/errors.js';
import { readsEverything } from '../../core/identity/roles.js';
import { accessRows } from '../../core/report/access-report.js';
import { renderCsv, renderJson } from '../../core/report/render-data.js';
import { renderHtml } from '../../core/report/render-html.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { nameSchema } from '../schemas.js';
import { accessReportView } from '../views/index.js';

/** A day (2026-12-01, midnight UTC) or an ISO time. */
const when = z
  .string()
  .max(40)
  .refine((v) => /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v)), 'must be a date (2026-12-01) or an ISO 8601 time')
  .transform((v) => Date.parse(v));

const types = { json: 'application/json', csv: 'text/csv', html: 'text/html' } as const;
/** Longest period one report covers: a year and a day. */
const maxPeriodMs = 367 * 86_400_000;

export function reportRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'GET',
      url: '/v1/reports/access',
      tag: 'reports',
      auth: 'user',
      errors: ['forbidden'],
      produces: Object.values(types),
      summary: 'Access report: every request made in [from, to) with its approvals, grant, extensions, end and sessions, and a summary (admins, auditors)',
      query: z
        .object({
          from: when,
          to: when,
          format: z.enum(['json', 'csv', 'html']).default('json'),
          target: nameSchema.optional(),
          user: nameSchema.optional(),
        })
        .strict(),
      response: accessReportView,
      handler: async ({ actor, query, reply }) => {
        if (!readsEverything(actor)) throw forbidden('only admins and auditors may read the access report');
        if (query.to <= query.from) throw invalid('query to: must be after from');
        if (query.to - query.from > maxPeriodMs) throw invalid('query to: a report covers at most 367 days');
        const q = { from: query.from, to: query.to, target: query.target, user: query.user };
        const now = deps.clock.now();
        const meta = { query: q, generatedAt: now };
        const rows = () => accessRows(deps.store, q, now);
        const body = query.format === 'csv' ? renderCsv(rows()) : query.format === 'html' ? renderHtml(rows, meta) : renderJson(rows(), meta);
        reply.header('cache-control', 'no-store');
        reply.type(`${types[query.format]}; charset=utf-8`);
        if (query.format !== 'json') {
          const day = (t: number) => new Date(t).toISOString().slice(0, 10);
          reply.header('content-disposition', `attachment; filename="access-${day(q.from)}-${day(q.to)}.${query.format}"`);
        }
        return Readable.from(body, { objectMode: false });
      },
    }),
  ];
}
