// The access report's reads over Kysely (the Store port's ReportStore): one
// page of requests, then their approvals, grants, break-glass records and
// audit events in four IN queries, so a month of requests costs a few
// queries per page rather than a few per request.

import type { Kysely } from 'kysely';
import type { ReportItem, ReportQuery } from '../core/ports.js';
import type { ApprovalRecord, AuditEvent, BreakGlassRecord, GrantRecord } from '../core/types.js';
import { rowToApproval, rowToAuditEvent, rowToBreakGlass, rowToGrant, rowToRequest } from './rows.js';
import type { Database } from './schema.js';

function groupBy<T>(items: T[], key: (t: T) => string | null): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    if (k === null) continue;
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

export class ReportReads {
  constructor(private readonly db: Kysely<Database>) {}

  async page(q: ReportQuery): Promise<ReportItem[]> {
    const after = q.after;
    const rows = await this.db
      .selectFrom('requests')
      .selectAll()
      .where('created_at', '>=', q.from)
      .where('created_at', '<', q.to)
      .$if(after !== undefined, (b) =>
        b.where((eb) => eb.or([eb('created_at', '>', after!.createdAt), eb.and([eb('created_at', '=', after!.createdAt), eb('id', '>', after!.id)])])),
      )
      .$if(q.target !== undefined, (b) => b.where('target', '=', q.target!))
      .$if(q.user !== undefined, (b) => b.where('user_name', '=', q.user!))
      .orderBy('created_at')
      .orderBy('id')
      .limit(q.limit)
      .execute();
    if (rows.length === 0) return [];
    const requests = rows.map(rowToRequest);
    const ids = requests.map((r) => r.id);
    const grantIds = requests.flatMap((r) => (r.grantId ? [r.grantId] : []));
    const [approvals, grants, breakGlass, events] = await Promise.all([
      this.db.selectFrom('approvals').selectAll().where('request_id', 'in', ids).orderBy('at').orderBy('approver').execute(),
      grantIds.length ? this.db.selectFrom('grants').selectAll().where('id', 'in', grantIds).execute() : [],
      this.db.selectFrom('break_glass').selectAll().where('request_id', 'in', ids).execute(),
      this.db
        .selectFrom('audit_events')
        .selectAll()
        .where((eb) => (grantIds.length ? eb.or([eb('request_id', 'in', ids), eb('grant_id', 'in', grantIds)]) : eb('request_id', 'in', ids)))
        .orderBy('seq')
        .execute(),
    ]);
    const approvalsOf = groupBy<ApprovalRecord>(approvals.map(rowToApproval), (a) => a.requestId);
    const grantOf = new Map<string, GrantRecord>(grants.map((g) => [g.id, rowToGrant(g)]));
    const breakGlassOf = new Map<string, BreakGlassRecord>(breakGlass.map((b) => [b.request_id, rowToBreakGlass(b)]));
    const grantToRequest = new Map(requests.flatMap((r) => (r.grantId ? [[r.grantId, r.id] as const] : [])));
    const eventsOf = groupBy<AuditEvent>(events.map(rowToAuditEvent), (e) => e.requestId ?? (e.grantId ? (grantToRequest.get(e.grantId) ?? null) : null));
    return requests.map((request) => ({
      request,
      approvals: approvalsOf.get(request.id) ?? [],
      grant: request.grantId ? (grantOf.get(request.grantId) ?? null) : null,
      breakGlass: breakGlassOf.get(request.id) ?? null,
      events: eventsOf.get(request.id) ?? [],
    }));
  }
}
