// The Store port's reads and writes over Kysely, for SQLite and PostgreSQL
// alike: the one class both a transaction and the store itself are (their
// lifecycle, locks and migrations are in kysely-store.ts, with the
// concurrency contract these methods keep). Requests, grants, the audit chain
// and sign-ins here; the smaller record families in kysely-records-tx.ts.

import type { Kysely, Transaction } from 'kysely';
import type { AuditFilter, GrantFilter, GrantPatch, RequestFilter, RequestPatch, StoreTx } from '../core/ports.js';
import type {
  ApprovalRecord,
  AuditEvent,
  AuditInput,
  BrokerRecord,
  BrokerStatus,
  GrantRecord,
  GrantStatus,
  PendingLoginRecord,
  RequestRecord,
  SignInRecord,
} from '../core/types.js';
import { AuditAppender } from './audit-appender.js';
import * as claims from './kysely-claims.js';
import { KyselyRecordsTx, type StoreDialect } from './kysely-records-tx.js';
import { SignInTx } from './signin-tx.js';
import { OutboxTx } from './outbox-tx.js';
import type { OutboxCounts, OutboxFilter, OutboxOutcome, OutboxRecord } from '../core/notify/notification.js';
import { grantPatchToRow, grantToRow, requestPatchToRow, requestToRow, rowToApproval, rowToAuditEvent, rowToGrant, rowToRequest } from './rows.js';
import type { Database } from './schema.js';
import { rowOf, rowShape, type StatementCache } from './statement-cache.js';

export type { StoreDialect };

const retryingStatuses = ['revoking', 'revoke-failing'] as const satisfies readonly GrantStatus[];

/** When a grant returned by listDueGrants became due. */
function dueAt(g: GrantRecord): number {
  if (g.status !== 'active') return g.nextAttemptAt!;
  return g.sessionLeaseUntil === null ? g.expiresAt! : Math.min(g.expiresAt ?? Infinity, g.sessionLeaseUntil);
}

/** Limits come from callers and config; negative or fractional ones would mean different things per dialect. */
function clampLimit(limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : undefined;
}

export class KyselyStoreTx extends KyselyRecordsTx implements StoreTx {
  constructor(db: Kysely<Database> | Transaction<Database>, dialectName: StoreDialect, statements: StatementCache) {
    super(db, dialectName, statements);
    this.audit = new AuditAppender(db, dialectName, statements);
    this.signIns = new SignInTx(db);
    this.outbox = new OutboxTx(db, dialectName);
  }

  private readonly outbox: OutboxTx;

  // ---- the notification outbox (outbox-tx.ts)

  insertNotifications(rows: readonly OutboxRecord[]): Promise<void> {
    return this.outbox.insert(rows);
  }

  claimNotifications(owner: string, now: number, leaseUntil: number, limit: number): Promise<OutboxRecord[]> {
    return this.outbox.claim(owner, now, leaseUntil, limit);
  }

  settleNotification(id: string, owner: string, outcome: OutboxOutcome): Promise<boolean> {
    return this.outbox.settle(id, owner, outcome);
  }

  listNotifications(filter: OutboxFilter): Promise<OutboxRecord[]> {
    return this.outbox.list(filter);
  }

  countNotifications(): Promise<OutboxCounts> {
    return this.outbox.count();
  }

  private readonly signIns: SignInTx;

  private readonly audit: AuditAppender;

  /** UPDATE table SET … WHERE id = ? AND version = ?; true when it matched. */
  private async casRow(table: 'requests' | 'grants', id: string, version: number, set: Record<string, unknown>): Promise<boolean> {
    const { shape, keys, values } = rowShape(table, set);
    const q = this.statements.get(`cas ${shape}`, [...values, id, version], (v) =>
      this.db
        .updateTable(table as 'grants')
        .set(rowOf(keys, v) as never)
        .where('id', '=', v[keys.length] as string)
        .where('version', '=', v[keys.length + 1] as number),
    );
    return (await this.db.executeQuery(q)).numAffectedRows === 1n;
  }

  // ---- requests and approvals

  async insertRequest(r: RequestRecord): Promise<void> {
    await this.insertRow('requests', requestToRow(r));
  }

  async getRequest(id: string): Promise<RequestRecord | undefined> {
    const row = await this.byKey('requests', 'id', id);
    return row ? rowToRequest(row) : undefined;
  }

  async casRequest(id: string, version: number, patch: RequestPatch): Promise<boolean> {
    return this.casRow('requests', id, version, { ...requestPatchToRow(patch), version: version + 1 });
  }

  /** Newest first. */
  async listRequests(filter: RequestFilter): Promise<RequestRecord[]> {
    if (filter.statuses && filter.statuses.length === 0) return [];
    const limit = clampLimit(filter.limit);
    const rows = await this.db
      .selectFrom('requests')
      .selectAll()
      .$if(filter.user !== undefined, (q) => q.where('user_name', '=', filter.user!))
      .$if(filter.statuses !== undefined, (q) => q.where('status', 'in', filter.statuses!))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .$if(limit !== undefined, (q) => q.limit(limit!))
      .execute();
    return rows.map(rowToRequest);
  }

  /** Oldest deadline first. */
  async listStalePendingRequests(now: number, limit: number): Promise<RequestRecord[]> {
    const rows = await this.db
      .selectFrom('requests')
      .selectAll()
      .where('status', '=', 'pending')
      .where('pending_expires_at', '<=', now)
      .orderBy('pending_expires_at')
      .orderBy('id')
      .limit(clampLimit(limit) ?? 0)
      .execute();
    return rows.map(rowToRequest);
  }

  async insertApproval(a: ApprovalRecord): Promise<void> {
    await this.db
      .insertInto('approvals')
      .values({ request_id: a.requestId, approver: a.approver, decision: a.decision, comment: a.comment, at: a.at })
      .execute();
  }

  /** In the order they were cast. */
  async listApprovals(requestId: string): Promise<ApprovalRecord[]> {
    const rows = await this.db.selectFrom('approvals').selectAll().where('request_id', '=', requestId).orderBy('at').orderBy('approver').execute();
    return rows.map(rowToApproval);
  }

  // ---- grants

  async insertGrant(g: GrantRecord): Promise<void> {
    await this.insertRow('grants', grantToRow(g));
  }

  async getGrant(id: string): Promise<GrantRecord | undefined> {
    const row = await this.byKey('grants', 'id', id);
    return row ? rowToGrant(row) : undefined;
  }

  async casGrant(id: string, version: number, patch: GrantPatch): Promise<boolean> {
    return this.casRow('grants', id, version, { ...grantPatchToRow(patch), version: version + 1 });
  }

  /**
   * Newest first. With several statuses, a limit and no user or account (the
   * admin's "every live grant" page), one query per status, each a range of
   * the (status, created_at, id) index, merged here: a single query with
   * `status IN (…) ORDER BY created_at` would sort every live grant (100k in
   * SQLite when it has no statistics) to return a page of them.
   */
  async listGrants(filter: GrantFilter): Promise<GrantRecord[]> {
    if (filter.statuses && filter.statuses.length === 0) return [];
    const limit = clampLimit(filter.limit);
    if (limit !== undefined && filter.statuses && filter.statuses.length > 1 && filter.user === undefined && filter.account === undefined) {
      const parts = await Promise.all([...new Set(filter.statuses)].map((s) => this.listGrants({ ...filter, statuses: [s] })));
      return parts
        .flat()
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .slice(0, limit);
    }
    const rows = await this.db
      .selectFrom('grants')
      .selectAll()
      .$if(filter.user !== undefined, (q) => q.where('user_name', '=', filter.user!))
      .$if(filter.statuses !== undefined, (q) => q.where('status', 'in', [...filter.statuses!]))
      .$if(filter.target !== undefined, (q) => q.where('target', '=', filter.target!))
      .$if(filter.profile !== undefined, (q) => q.where('profile', '=', filter.profile!))
      .$if(filter.account !== undefined, (q) => q.where('account', '=', filter.account!))
      .$if(filter.sessionBound !== undefined, (q) => q.where('session_lease_until', filter.sessionBound ? 'is not' : 'is', null))
      .$if(filter.unbackedBy !== undefined, (q) =>
        q.where((eb) => {
          const { users, profiles, targets } = filter.unbackedBy!;
          // An empty set backs nothing: every grant is outside it (and `not in ()` is not SQL everywhere).
          const outside = (column: 'user_name' | 'profile' | 'target', names: readonly string[]) =>
            names.length === 0 ? eb.lit(true) : eb(column, 'not in', [...names]);
          return eb.or([...(users === null ? [] : [outside('user_name', users)]), outside('profile', profiles), outside('target', targets)]);
        }),
      )
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .$if(limit !== undefined, (q) => q.limit(limit!))
      .execute();
    return rows.map(rowToGrant);
  }

  /**
   * Three index range scans (one per kind of due time) merged here, rather
   * than one OR with an ORDER BY over a CASE, which no index can serve.
   */
  async listDueGrants(now: number, limit: number): Promise<GrantRecord[]> {
    const n = clampLimit(limit) ?? 0;
    if (n === 0) return [];
    const [expired, leaseLapsed, retrying] = await Promise.all([
      this.db
        .selectFrom('grants')
        .selectAll()
        .where('status', '=', 'active')
        .where('expires_at', '<=', now)
        .orderBy('expires_at')
        .orderBy('id')
        .limit(n)
        .execute(),
      this.db
        .selectFrom('grants')
        .selectAll()
        .where('status', '=', 'active')
        .where('session_lease_until', '<=', now)
        .orderBy('session_lease_until')
        .orderBy('id')
        .limit(n)
        .execute(),
      this.db
        .selectFrom('grants')
        .selectAll()
        .where('status', 'in', retryingStatuses)
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(n)
        .execute(),
    ]);
    const byId = new Map<string, GrantRecord>();
    for (const row of [...expired, ...leaseLapsed, ...retrying]) byId.set(row.id, rowToGrant(row));
    return [...byId.values()].sort((a, b) => dueAt(a) - dueAt(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, n);
  }

  // ---- claimed work and broker heartbeats (kysely-claims.ts)

  claimDueGrants(now: number, limit: number, holder: string, until: number): Promise<GrantRecord[]> {
    return claims.claimDueGrants(this.db, this.dialectName, now, clampLimit(limit) ?? 0, holder, until);
  }

  claimGrant(id: string, holder: string, now: number, until: number, force = false): Promise<GrantRecord | undefined> {
    return claims.claimGrant(this.db, id, holder, now, until, force);
  }

  renewClaims(grantIds: readonly string[], holder: string, until: number): Promise<number> {
    return claims.renewClaims(this.db, grantIds, holder, until);
  }

  putBroker(b: BrokerRecord): Promise<void> {
    return claims.putBroker(this.db, b);
  }

  listBrokers(aliveSince: number, now: number): Promise<BrokerStatus[]> {
    return claims.listBrokers(this.db, aliveSince, now);
  }

  deleteBrokers(before: number, id?: string): Promise<number> {
    return claims.deleteBrokers(this.db, before, id);
  }

  /** The earliest due time, past or future; each part is an index lookup. */
  async nextDueAt(): Promise<number | null> {
    const row = await this.db
      .selectNoFrom((eb) => [
        eb
          .selectFrom('grants')
          .select('expires_at')
          .where('status', '=', 'active')
          .where('expires_at', 'is not', null)
          .orderBy('expires_at')
          .limit(1)
          .as('expiry'),
        eb
          .selectFrom('grants')
          .select('session_lease_until')
          .where('status', '=', 'active')
          .where('session_lease_until', 'is not', null)
          .orderBy('session_lease_until')
          .limit(1)
          .as('lease'),
        ...retryingStatuses.map((s, i) =>
          eb
            .selectFrom('grants')
            .select('next_attempt_at')
            .where('status', '=', s)
            .where('next_attempt_at', 'is not', null)
            .orderBy('next_attempt_at')
            .limit(1)
            .as(`retry${i}`),
        ),
      ])
      .executeTakeFirstOrThrow();
    const times = Object.values(row as Record<string, number | null>).filter((t): t is number => t !== null);
    return times.length === 0 ? null : Math.min(...times);
  }

  async renewSessionLeases(grantIds: readonly string[], until: number): Promise<number> {
    if (grantIds.length === 0) return 0;
    let renewed = 0;
    // Bounded IN lists: SQLite allows at most 32766 bound parameters per statement.
    for (let i = 0; i < grantIds.length; i += 500) {
      const r = await this.db
        .updateTable('grants')
        .set({ session_lease_until: until })
        .where('id', 'in', grantIds.slice(i, i + 500))
        .where('status', '=', 'active')
        .where('session_lease_until', 'is not', null)
        .where('session_lease_until', '<', until)
        .executeTakeFirst();
      renewed += Number(r.numUpdatedRows);
    }
    return renewed;
  }

  async countGrantsByStatus(): Promise<Partial<Record<GrantStatus, number>>> {
    const rows = await this.db
      .selectFrom('grants')
      .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();
    const out: Partial<Record<GrantStatus, number>> = {};
    for (const r of rows) out[r.status as GrantStatus] = Number(r.n);
    return out;
  }

  // ---- audit

  async appendAudit(input: AuditInput): Promise<AuditEvent> {
    return this.audit.append(input);
  }

  /** Writes the events appended so far in this transaction and moves the head. */
  async flushAudit(): Promise<void> {
    await this.audit.flush();
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    await this.flushAudit();
    const limit = clampLimit(filter.limit);
    const rows = await this.db
      .selectFrom('audit_events')
      .selectAll()
      .$if(filter.afterSeq !== undefined, (q) => q.where('seq', '>', filter.afterSeq!))
      .$if(filter.since !== undefined, (q) => q.where('at', '>=', filter.since!))
      .$if(filter.until !== undefined, (q) => q.where('at', '<=', filter.until!))
      .$if(filter.action !== undefined, (q) => q.where('action', '=', filter.action!))
      .$if(filter.subjectUser !== undefined, (q) => q.where('subject_user', '=', filter.subjectUser!))
      .$if(filter.target !== undefined, (q) => q.where('target', '=', filter.target!))
      .orderBy('seq')
      .$if(limit !== undefined, (q) => q.limit(limit!))
      .execute();
    return rows.map(rowToAuditEvent);
  }

  async auditHead(): Promise<{ seq: number; hash: string } | null> {
    await this.flushAudit();
    const head = await this.db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
    return head && head.seq > 0 ? { seq: head.seq, hash: head.hash } : null;
  }

  // ---- sign-ins (signin-tx.ts)

  insertSignIn(s: SignInRecord): Promise<void> {
    return this.signIns.insert(s);
  }

  findSignInByHash(hash: string): Promise<SignInRecord | undefined> {
    return this.signIns.findByHash(hash);
  }

  listLiveSignIns(user: string): Promise<SignInRecord[]> {
    return this.signIns.listLive(user);
  }

  endSignIn(id: string, at: number, reason: string): Promise<boolean> {
    return this.signIns.end(id, at, reason);
  }

  listSignInsToCheck(before: number, limit: number): Promise<SignInRecord[]> {
    return this.signIns.listToCheck(before, limit);
  }

  casSignInCheck(id: string, checkedAt: number, patch: { checkedAt: number; groups?: string[]; refreshSealed?: string | null }): Promise<boolean> {
    return this.signIns.casCheck(id, checkedAt, patch);
  }

  insertPendingLogin(p: PendingLoginRecord, pruneBefore: number): Promise<void> {
    return this.signIns.insertPending(p, pruneBefore);
  }

  usePendingLogin(hash: string, now: number): Promise<PendingLoginRecord | undefined> {
    return this.signIns.usePending(hash, now);
  }

  getPendingLogin(hash: string): Promise<PendingLoginRecord | undefined> {
    return this.signIns.getPending(hash);
  }
}
