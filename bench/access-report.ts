// Access report over 100,000 grants in a month (SQLite store): time, CPU time
// and peak memory (RSS sampled while rendering) per format, against the raw
// peer in the same run: one SQL statement over the same rows (request, grant,
// approval and the events a row reads), each row JSON-encoded. Usage:
//   node --expose-gc --import tsx bench/access-report.ts [GRANTS]
// Each format streams into a sink that drops the bytes, as an HTTP client would.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { accessRows } from '../src/core/report/access-report.js';
import { reportEventActions } from '../src/core/report/access-rows.js';
import { renderCsv, renderJson } from '../src/core/report/render-data.js';
import { renderHtml } from '../src/core/report/render-html.js';
import { openStore } from '../src/store/index.js';
import { makeGrant, makeRequest } from '../src/store/testing/fixtures.js';

const n = Number(process.argv[2] ?? 100_000);
const from = Date.UTC(2026, 11, 1);
const to = Date.UTC(2027, 0, 1);
const dir = await mkdtemp(join(tmpdir(), 'stint-bench-report-'));
const store = await openStore({ kind: 'sqlite', path: join(dir, 'stint.db') });
await store.migrate();
const t0 = performance.now();
for (let i = 0; i < n; i += 1000) {
  await store.transaction(async (tx) => {
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const at = from + Math.floor(((to - from) * j) / n);
      const g = makeGrant({
        createdAt: at,
        activatedAt: at + 1000,
        status: 'revoked',
        revokedAt: at + 3_600_000,
        revokeReason: 'expired',
        user: `u${j % 300}`,
      });
      const r = makeRequest({ id: g.requestId, createdAt: at, status: 'approved', decidedAt: at + 60_000, grantId: g.id, user: g.user });
      await tx.insertRequest(r);
      await tx.insertGrant(g);
      await tx.insertApproval({ requestId: r.id, approver: 'bob', decision: 'approve', comment: 'ok', at: at + 60_000 });
      await tx.appendAudit({ at, actor: r.user, action: 'request.created', requestId: r.id });
      await tx.appendAudit({ at: at + 1000, actor: 'stint', action: 'grant.activated', requestId: r.id, grantId: g.id });
      await tx.appendAudit({ at: at + 3_600_000, actor: 'stint', action: 'grant.revoked', requestId: r.id, grantId: g.id, details: { existed: true } });
    }
  });
}
console.log(`setup: ${n} requests and grants, ${3 * n} audit events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const q = { from, to };
const raw = new Database(join(dir, 'stint.db'), { readonly: true });
const rawRows = raw.prepare(
  `SELECT r.*, g.*, a.approver, a.decision, a.comment, a.at AS approved_at,
     (SELECT json_group_array(json_object('seq', e.seq, 'at', e.at, 'action', e.action, 'details', json(e.details)))
        FROM audit_events e WHERE e.request_id = r.id AND e.action IN (${reportEventActions.map(() => '?').join(',')})) AS events
   FROM requests r LEFT JOIN grants g ON g.id = r.grant_id LEFT JOIN approvals a ON a.request_id = r.id
   WHERE r.created_at >= ? AND r.created_at < ? ORDER BY r.created_at, r.id`,
);
async function* rawJson(): AsyncGenerator<string> {
  for (const row of rawRows.iterate(...reportEventActions, from, to)) yield `${JSON.stringify(row)},\n`;
}
const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
for (const format of ['raw SQL', 'json', 'csv', 'html', 'raw SQL'] as const) {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const start = performance.now();
  const cpu0 = cpu();
  const now = to;
  const rows = () => accessRows(store, q, now);
  const body =
    format === 'raw SQL'
      ? rawJson()
      : format === 'json'
        ? renderJson(rows(), { query: q, generatedAt: now })
        : format === 'csv'
          ? renderCsv(rows())
          : renderHtml(rows, { query: q, generatedAt: now });
  let bytes = 0;
  for await (const chunk of body) bytes += chunk.length;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log(
    `${format}: ${((performance.now() - start) / 1000).toFixed(2)} s, CPU ${(cpu() - cpu0).toFixed(2)} s, ${(bytes / 1e6).toFixed(1)} MB out, peak RSS ${(peak / 1e6).toFixed(0)} MB (+${((peak - base) / 1e6).toFixed(0)} MB over the ${(base / 1e6).toFixed(0)} MB before)`,
  );
}
raw.close();
await store.close();
await rm(dir, { recursive: true, force: true });
