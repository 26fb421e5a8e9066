// The Store port's reads and writes over the in-memory tables
// (memory-state.ts): what a transaction and the store itself do, with the
// SQL stores' orderings, filters, limits and unique keys. Concurrency is the
// store's (memory-store.ts): every write runs alone, on its own copy.

import { genesisHash, hashEvent, type HashableEvent } from '../../core/audit/chain.js';
import type { AuditFilter, GrantFilter, GrantPatch, RequestFilter, RequestPatch, StoreTx } from '../../core/ports.js';
import type {
  ApprovalRecord,
  AuditEvent,
  AuditInput,
  BreakGlassRecord,
  BrokerRecord,
  BrokerStatus,
  ConnectTokenRecord,
  GrantRecord,
  GrantStatus,
  PendingLoginRecord,
  RequestRecord,
  SignInRecord,
  SshKeyRecord,
  TokenRecord,
} from '../../core/types.js';
import { normalizeDetails } from '../audit-appender.js';
import type { OutboxCounts, OutboxFilter, OutboxOutcome, OutboxRecord } from '../../core/notify/notification.js';
import { claimOutbox, countOutbox, insertOutbox, listOutbox, settleOutbox } from './memory-outbox.js';
import { applyPatch, byKeys, clampLimit, copy, duplicate, take, type MemoryState } from './memory-state.js';

const retrying: readonly GrantStatus[] = ['revoking', 'revoke-failing'];

/** When a grant returned by listDueGrants became due (as kysely-tx.ts). */
function dueAt(g: GrantRecord): number {
  if (g.status !== 'active') return g.nextAttemptAt!;
  return g.sessionLeaseUntil === null ? g.expiresAt! : Math.min(g.expiresAt ?? Infinity, g.sessionLeaseUntil);
}

function isDue(g: GrantRecord, now: number): boolean {
  if (g.status === 'active') return (g.expiresAt !== null && g.expiresAt <= now) || (g.sessionLeaseUntil !== null && g.sessionLeaseUntil <= now);
  return retrying.includes(g.status) && g.nextAttemptAt !== null && g.nextAttemptAt <= now;
}

/** Free or lapsed at `now` (a claim of `holder` counts as free to it). */
function claimable(g: GrantRecord, now: number, holder: string): boolean {
  return g.claimedUntil === null || g.claimedUntil <= now || g.claimedBy === holder;
}

function unbacked(g: GrantRecord, by: NonNullable<GrantFilter['unbackedBy']>): boolean {
  return (by.users !== null && !by.users.includes(g.user)) || !by.profiles.includes(g.profile) || !by.targets.includes(g.target);
}

const newestFirst = byKeys<{ createdAt: number; id: string }>([(x) => x.createdAt, (x) => x.id], true);
const oldestFirst = byKeys<{ createdAt: number; id: string }>([(x) => x.createdAt, (x) => x.id]);

export class MemoryTx implements StoreTx {
  constructor(protected readonly s: MemoryState) {}

  private insertOnce<T>(table: string, map: Map<string, T>, key: string, value: T): void {
    if (map.has(key)) throw duplicate(table, key);
    map.set(key, copy(value));
  }

  // ---- the notification outbox (memory-outbox.ts)

  async insertNotifications(rows: readonly OutboxRecord[]): Promise<void> {
    insertOutbox(this.s.notifications, rows);
  }

  async claimNotifications(owner: string, now: number, leaseUntil: number, limit: number): Promise<OutboxRecord[]> {
    return claimOutbox(this.s.notifications, owner, now, leaseUntil, limit);
  }

  async settleNotification(id: string, owner: string, outcome: OutboxOutcome): Promise<boolean> {
    return settleOutbox(this.s.notifications, id, owner, outcome);
  }

  async listNotifications(filter: OutboxFilter): Promise<OutboxRecord[]> {
    return listOutbox(this.s.notifications, filter);
  }

  async countNotifications(): Promise<OutboxCounts> {
    return countOutbox(this.s.notifications);
  }

  // ---- requests and approvals

  async insertRequest(r: RequestRecord): Promise<void> {
    this.insertOnce('requests', this.s.requests, r.id, r);
  }

  async getRequest(id: string): Promise<RequestRecord | undefined> {
    const r = this.s.requests.get(id);
    return r && copy(r);
  }

  async casRequest(id: string, version: number, patch: RequestPatch): Promise<boolean> {
    const cur = this.s.requests.get(id);
    if (!cur || cur.version !== version) return false;
    this.s.requests.set(id, { ...applyPatch(cur, patch, ['id', 'version']), version: version + 1 });
    return true;
  }

  async listRequests(filter: RequestFilter): Promise<RequestRecord[]> {
    const rows = [...this.s.requests.values()].filter(
      (r) => (filter.user === undefined || r.user === filter.user) && (filter.statuses === undefined || filter.statuses.includes(r.status)),
    );
    return take(rows.sort(newestFirst), filter.limit).map(copy);
  }

  async listStalePendingRequests(now: number, limit: number): Promise<RequestRecord[]> {
    const rows = [...this.s.requests.values()].filter((r) => r.status === 'pending' && r.pendingExpiresAt !== null && r.pendingExpiresAt <= now);
    return rows
      .sort(byKeys([(r) => r.pendingExpiresAt!, (r) => r.id]))
      .slice(0, clampLimit(limit) ?? 0)
      .map(copy);
  }

  async insertApproval(a: ApprovalRecord): Promise<void> {
    this.insertOnce('approvals', this.s.approvals, `${a.requestId}\u0000${a.approver}`, a);
  }

  async listApprovals(requestId: string): Promise<ApprovalRecord[]> {
    const rows = [...this.s.approvals.values()].filter((a) => a.requestId === requestId);
    return rows.sort(byKeys([(a) => a.at, (a) => a.approver])).map(copy);
  }

  // ---- grants

  async insertGrant(g: GrantRecord): Promise<void> {
    this.insertOnce('grants', this.s.grants, g.id, g);
  }

  async getGrant(id: string): Promise<GrantRecord | undefined> {
    const g = this.s.grants.get(id);
    return g && copy(g);
  }

  async casGrant(id: string, version: number, patch: GrantPatch): Promise<boolean> {
    const cur = this.s.grants.get(id);
    if (!cur || cur.version !== version) return false;
    this.s.grants.set(id, { ...applyPatch(cur, patch, ['id', 'version', 'requestId']), version: version + 1 });
    return true;
  }

  async listGrants(f: GrantFilter): Promise<GrantRecord[]> {
    const rows = [...this.s.grants.values()].filter(
      (g) =>
        (f.user === undefined || g.user === f.user) &&
        (f.statuses === undefined || f.statuses.includes(g.status)) &&
        (f.target === undefined || g.target === f.target) &&
        (f.profile === undefined || g.profile === f.profile) &&
        (f.account === undefined || g.account === f.account) &&
        (f.sessionBound === undefined || (g.sessionLeaseUntil !== null) === f.sessionBound) &&
        (f.unbackedBy === undefined || unbacked(g, f.unbackedBy)),
    );
    return take(rows.sort(newestFirst), f.limit).map(copy);
  }

  async listDueGrants(now: number, limit: number): Promise<GrantRecord[]> {
    const rows = [...this.s.grants.values()].filter((g) => isDue(g, now));
    return rows
      .sort(byKeys([dueAt, (g) => g.id]))
      .slice(0, clampLimit(limit) ?? 0)
      .map(copy);
  }

  // ---- claimed work and broker heartbeats (as kysely-claims.ts)

  async claimDueGrants(now: number, limit: number, holder: string, until: number): Promise<GrantRecord[]> {
    const due = await this.listDueGrants(now, Number.MAX_SAFE_INTEGER);
    const out: GrantRecord[] = [];
    for (const g of due) {
      if (out.length >= (clampLimit(limit) ?? 0)) break;
      if (g.claimedUntil !== null && g.claimedUntil > now) continue;
      const next = { ...this.s.grants.get(g.id)!, claimedBy: holder, claimedUntil: until };
      this.s.grants.set(g.id, next);
      out.push(copy(next));
    }
    return out;
  }

  async claimGrant(id: string, holder: string, now: number, until: number, force = false): Promise<GrantRecord | undefined> {
    const g = this.s.grants.get(id);
    if (!g || (!force && !claimable(g, now, holder))) return undefined;
    const next = { ...g, claimedBy: holder, claimedUntil: until };
    this.s.grants.set(id, next);
    return copy(next);
  }

  async renewClaims(grantIds: readonly string[], holder: string, until: number): Promise<number> {
    let renewed = 0;
    for (const id of new Set(grantIds)) {
      const g = this.s.grants.get(id);
      if (!g || g.claimedBy !== holder) continue;
      this.s.grants.set(id, { ...g, claimedUntil: until });
      renewed++;
    }
    return renewed;
  }

  async putBroker(b: BrokerRecord): Promise<void> {
    const cur = this.s.brokers.get(b.id);
    this.s.brokers.set(b.id, { ...copy(b), startedAt: cur?.startedAt ?? b.startedAt });
  }

  async listBrokers(aliveSince: number, now: number): Promise<BrokerStatus[]> {
    const live = new Set<string>(['provisioning', 'active', 'revoking', 'revoke-failing']);
    const held = new Map<string, number>();
    for (const g of this.s.grants.values())
      if (g.claimedBy !== null && g.claimedUntil !== null && g.claimedUntil > now && live.has(g.status))
        held.set(g.claimedBy, (held.get(g.claimedBy) ?? 0) + 1);
    return [...this.s.brokers.values()]
      .filter((b) => b.heartbeatAt >= aliveSince)
      .sort(byKeys([(b) => b.startedAt, (b) => b.id]))
      .map((b) => ({ ...copy(b), heldGrants: held.get(b.id) ?? 0 }));
  }

  async deleteBrokers(before: number, id?: string): Promise<number> {
    let n = 0;
    for (const b of [...this.s.brokers.values()])
      if (b.heartbeatAt < before || b.id === id) {
        this.s.brokers.delete(b.id);
        n++;
      }
    return n;
  }

  async nextDueAt(): Promise<number | null> {
    let next: number | null = null;
    const consider = (t: number | null) => {
      if (t !== null && (next === null || t < next)) next = t;
    };
    for (const g of this.s.grants.values()) {
      if (g.status === 'active') {
        consider(g.expiresAt);
        consider(g.sessionLeaseUntil);
      } else if (retrying.includes(g.status)) consider(g.nextAttemptAt);
    }
    return next;
  }

  async renewSessionLeases(grantIds: readonly string[], until: number): Promise<number> {
    let renewed = 0;
    for (const id of new Set(grantIds)) {
      const g = this.s.grants.get(id);
      if (!g || g.status !== 'active' || g.sessionLeaseUntil === null || g.sessionLeaseUntil >= until) continue;
      this.s.grants.set(id, { ...g, sessionLeaseUntil: until });
      renewed++;
    }
    return renewed;
  }

  async countGrantsByStatus(): Promise<Partial<Record<GrantStatus, number>>> {
    const out: Partial<Record<GrantStatus, number>> = {};
    for (const g of this.s.grants.values()) out[g.status] = (out[g.status] ?? 0) + 1;
    return out;
  }

  // ---- audit (the hash chain of core/audit/chain.ts, as audit-appender.ts builds it)

  async appendAudit(input: AuditInput): Promise<AuditEvent> {
    const head = this.s.audit.at(-1);
    const event: HashableEvent = {
      seq: (head?.seq ?? 0) + 1,
      at: input.at,
      actor: input.actor,
      action: input.action,
      requestId: input.requestId ?? null,
      grantId: input.grantId ?? null,
      target: input.target ?? null,
      subjectUser: input.subjectUser ?? null,
      details: normalizeDetails(input.details),
      prevHash: head ? head.hash : genesisHash,
    };
    const full: AuditEvent = { ...event, hash: hashEvent(event) };
    this.s.audit.push(full);
    return copy(full);
  }

  async listAudit(f: AuditFilter): Promise<AuditEvent[]> {
    const rows = this.s.audit.filter(
      (e) =>
        (f.afterSeq === undefined || e.seq > f.afterSeq) &&
        (f.since === undefined || e.at >= f.since) &&
        (f.until === undefined || e.at <= f.until) &&
        (f.action === undefined || e.action === f.action) &&
        (f.subjectUser === undefined || e.subjectUser === f.subjectUser) &&
        (f.target === undefined || e.target === f.target),
    );
    return take(rows, f.limit).map(copy);
  }

  async auditHead(): Promise<{ seq: number; hash: string } | null> {
    const head = this.s.audit.at(-1);
    return head ? { seq: head.seq, hash: head.hash } : null;
  }

  // ---- tokens

  async insertToken(t: TokenRecord): Promise<void> {
    if ([...this.s.tokens.values()].some((x) => x.hash === t.hash)) throw duplicate('tokens', 'hash');
    this.insertOnce('tokens', this.s.tokens, t.id, t);
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const t = [...this.s.tokens.values()].find((x) => x.hash === hash);
    return t && copy(t);
  }

  async listTokens(user?: string): Promise<TokenRecord[]> {
    return [...this.s.tokens.values()]
      .filter((t) => user === undefined || t.user === user)
      .sort(oldestFirst)
      .map(copy);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    const t = this.s.tokens.get(id);
    if (!t || t.revokedAt !== null) return false;
    this.s.tokens.set(id, { ...t, revokedAt: at });
    return true;
  }

  async touchToken(id: string, at: number, minGapMs: number): Promise<boolean> {
    const t = this.s.tokens.get(id);
    if (!t || (t.lastUsedAt !== null && t.lastUsedAt > at - minGapMs)) return false;
    this.s.tokens.set(id, { ...t, lastUsedAt: at });
    return true;
  }

  // ---- break-glass activations

  async insertBreakGlass(b: BreakGlassRecord): Promise<void> {
    this.insertOnce('break_glass', this.s.breakGlass, b.grantId, b);
  }

  async getBreakGlass(grantId: string): Promise<BreakGlassRecord | undefined> {
    const b = this.s.breakGlass.get(grantId);
    return b && copy(b);
  }

  async listBreakGlass(filter: { open?: boolean; limit?: number }): Promise<BreakGlassRecord[]> {
    const rows = [...this.s.breakGlass.values()].filter((b) => filter.open !== true || b.reviewedAt === null);
    return take(rows.sort(byKeys([(b) => b.createdAt, (b) => b.grantId])), filter.limit ?? 500).map(copy);
  }

  async reviewBreakGlass(grantId: string, by: string, comment: string, at: number): Promise<boolean> {
    const b = this.s.breakGlass.get(grantId);
    if (!b || b.reviewedAt !== null) return false;
    this.s.breakGlass.set(grantId, { ...b, reviewedAt: at, reviewedBy: by, reviewComment: comment });
    return true;
  }

  // ---- connect tokens

  async insertConnectToken(t: ConnectTokenRecord, pruneBefore: number): Promise<void> {
    for (const [hash, x] of this.s.connectTokens) if (x.expiresAt < pruneBefore) this.s.connectTokens.delete(hash);
    this.insertOnce('connect_tokens', this.s.connectTokens, t.hash, t);
  }

  async useConnectToken(hash: string, profile: string, now: number): Promise<ConnectTokenRecord | undefined> {
    const t = this.s.connectTokens.get(hash);
    if (!t || t.profile !== profile || t.usedAt !== null || t.expiresAt <= now) return undefined;
    const used = { ...t, usedAt: now };
    this.s.connectTokens.set(hash, used);
    return copy(used);
  }

  // ---- sign-ins and pending logins

  async insertSignIn(s: SignInRecord): Promise<void> {
    if ([...this.s.signIns.values()].some((x) => x.hash === s.hash)) throw duplicate('signins', 'hash');
    this.insertOnce('signins', this.s.signIns, s.id, s);
  }

  async findSignInByHash(hash: string): Promise<SignInRecord | undefined> {
    const s = [...this.s.signIns.values()].find((x) => x.hash === hash);
    return s && copy(s);
  }

  async listLiveSignIns(user: string): Promise<SignInRecord[]> {
    return [...this.s.signIns.values()]
      .filter((s) => s.user === user && s.endedAt === null)
      .sort(oldestFirst)
      .map(copy);
  }

  async endSignIn(id: string, at: number, reason: string): Promise<boolean> {
    const s = this.s.signIns.get(id);
    if (!s || s.endedAt !== null) return false;
    this.s.signIns.set(id, { ...s, endedAt: at, endReason: reason, refreshSealed: null });
    return true;
  }

  async listSignInsToCheck(before: number, limit: number): Promise<SignInRecord[]> {
    const rows = [...this.s.signIns.values()].filter((s) => s.method === 'oidc' && s.endedAt === null && s.checkedAt <= before);
    return rows
      .sort(byKeys([(s) => s.checkedAt]))
      .slice(0, Math.max(0, Math.floor(limit)))
      .map(copy);
  }

  async casSignInCheck(id: string, checkedAt: number, patch: { checkedAt: number; groups?: string[]; refreshSealed?: string | null }): Promise<boolean> {
    const s = this.s.signIns.get(id);
    if (!s || s.checkedAt !== checkedAt || s.endedAt !== null) return false;
    this.s.signIns.set(id, {
      ...s,
      checkedAt: patch.checkedAt,
      ...(patch.groups ? { groups: [...patch.groups] } : {}),
      ...(patch.refreshSealed !== undefined ? { refreshSealed: patch.refreshSealed } : {}),
    });
    return true;
  }

  async insertPendingLogin(p: PendingLoginRecord, pruneBefore: number): Promise<void> {
    for (const [hash, x] of this.s.pendingLogins) if (x.expiresAt < pruneBefore) this.s.pendingLogins.delete(hash);
    this.insertOnce('pending_logins', this.s.pendingLogins, p.hash, p);
  }

  async usePendingLogin(hash: string, now: number): Promise<PendingLoginRecord | undefined> {
    const p = this.s.pendingLogins.get(hash);
    if (!p || p.usedAt !== null || p.expiresAt <= now) return undefined;
    const used = { ...p, usedAt: now };
    this.s.pendingLogins.set(hash, used);
    return copy(used);
  }

  async getPendingLogin(hash: string): Promise<PendingLoginRecord | undefined> {
    const p = this.s.pendingLogins.get(hash);
    return p && copy(p);
  }

  // ---- ssh keys

  async insertSshKey(k: SshKeyRecord): Promise<void> {
    if ([...this.s.sshKeys.values()].some((x) => x.fingerprint === k.fingerprint)) throw duplicate('ssh_keys', 'fingerprint');
    this.insertOnce('ssh_keys', this.s.sshKeys, k.id, k);
  }

  async getSshKey(id: string): Promise<SshKeyRecord | undefined> {
    const k = this.s.sshKeys.get(id);
    return k && copy(k);
  }

  async findSshKeyByFingerprint(fingerprint: string): Promise<SshKeyRecord | undefined> {
    const k = [...this.s.sshKeys.values()].find((x) => x.fingerprint === fingerprint);
    return k && copy(k);
  }

  async listSshKeys(user?: string): Promise<SshKeyRecord[]> {
    return [...this.s.sshKeys.values()]
      .filter((k) => user === undefined || k.user === user)
      .sort(oldestFirst)
      .map(copy);
  }

  async deleteSshKey(id: string): Promise<boolean> {
    return this.s.sshKeys.delete(id);
  }

  // ---- target credentials and meta

  async putTargetCredential(target: string, sealed: string, at: number): Promise<void> {
    this.s.targetCredentials.set(target, { sealed, updatedAt: at });
  }

  async getTargetCredential(target: string): Promise<string | undefined> {
    return this.s.targetCredentials.get(target)?.sealed;
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.s.meta.get(key);
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.s.meta.set(key, value);
  }
}
