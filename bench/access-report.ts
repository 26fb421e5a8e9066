// Access report over 100,000 grants in a month (SQLite store): time and peak
// memory (RSS sampled while rendering) per format. Usage:
//   node --import tsx bench/access-report.ts [GRANTS]
// Each format streams into a sink that drops the bytes, as an HTTP client would.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessRows } from '../src/core/report/access-report.js';
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
for (const format of ['json', 'csv', 'html'] as const) {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const start = performance.now();
  const now = to;
  const rows = () => accessRows(store, q, now);
  const body =
    format === 'json'
      ? renderJson(rows(), { query: q, generatedAt: now })
      : format === 'csv'
        ? renderCsv(rows())
        : renderHtml(rows, { query: q, generatedAt: now });
  let bytes = 0;
  for await (const chunk of body) bytes += chunk.length;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log(
    `${format}: ${((performance.now() - start) / 1000).toFixed(2)} s, ${(bytes / 1e6).toFixed(1)} MB out, peak RSS ${(peak / 1e6).toFixed(0)} MB (+${((peak - base) / 1e6).toFixed(0)} MB over the ${(base / 1e6).toFixed(0)} MB before)`,
  );
}
await store.close();
await rm(dir, { recursive: true, force: true });
