// Sign-ins and pending logins over Kysely (the Store port's identity part);
// KyselyStoreTx delegates here so the records' columns live in one place.

import type { Kysely, Transaction } from 'kysely';
import type { PendingLoginRecord, SignInRecord } from '../core/types.js';
import type { Database, PendingLoginsTable, SignInsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

function rowToSignIn(r: SignInsTable): SignInRecord {
  return {
    id: r.id,
    hash: r.hash,
    user: r.user_name,
    groups: JSON.parse(r.groups) as string[],
    email: r.email,
    method: r.method as SignInRecord['method'],
    client: r.client as SignInRecord['client'],
    tokenHash: r.token_hash,
    createdAt: Number(r.created_at),
    authTime: Number(r.auth_time),
    expiresAt: Number(r.expires_at),
    checkedAt: Number(r.checked_at),
    refreshSealed: r.refresh_sealed,
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    endReason: r.end_reason,
  };
}

function rowToPendingLogin(r: PendingLoginsTable): PendingLoginRecord {
  return {
    hash: r.hash,
    kind: r.kind as PendingLoginRecord['kind'],
    sealed: r.sealed,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    usedAt: r.used_at === null ? null : Number(r.used_at),
  };
}

export class SignInTx {
  constructor(private readonly db: Db) {}

  async insert(s: SignInRecord): Promise<void> {
    await this.db
      .insertInto('signins')
      .values({
        id: s.id,
        hash: s.hash,
        user_name: s.user,
        groups: JSON.stringify(s.groups),
        email: s.email,
        method: s.method,
        client: s.client,
        token_hash: s.tokenHash,
        created_at: s.createdAt,
        auth_time: s.authTime,
        expires_at: s.expiresAt,
        checked_at: s.checkedAt,
        refresh_sealed: s.refreshSealed,
        ended_at: s.endedAt,
        end_reason: s.endReason,
      })
      .execute();
  }

  async findByHash(hash: string): Promise<SignInRecord | undefined> {
    const r = await this.db.selectFrom('signins').selectAll().where('hash', '=', hash).executeTakeFirst();
    return r ? rowToSignIn(r) : undefined;
  }

  async listLive(user: string): Promise<SignInRecord[]> {
    const rows = await this.db
      .selectFrom('signins')
      .selectAll()
      .where('user_name', '=', user)
      .where('ended_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(rowToSignIn);
  }

  async end(id: string, at: number, reason: string): Promise<boolean> {
    const r = await this.db
      .updateTable('signins')
      .set({ ended_at: at, end_reason: reason, refresh_sealed: null })
      .where('id', '=', id)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async listToCheck(before: number, limit: number): Promise<SignInRecord[]> {
    const rows = await this.db
      .selectFrom('signins')
      .selectAll()
      .where('method', '=', 'oidc')
      .where('ended_at', 'is', null)
      .where('checked_at', '<=', before)
      .orderBy('checked_at')
      .limit(Math.max(0, Math.floor(limit)))
      .execute();
    return rows.map(rowToSignIn);
  }

  async casCheck(id: string, checkedAt: number, patch: { checkedAt: number; groups?: string[]; refreshSealed?: string | null }): Promise<boolean> {
    const r = await this.db
      .updateTable('signins')
      .set({
        checked_at: patch.checkedAt,
        ...(patch.groups ? { groups: JSON.stringify(patch.groups) } : {}),
        ...(patch.refreshSealed !== undefined ? { refresh_sealed: patch.refreshSealed } : {}),
      })
      .where('id', '=', id)
      .where('checked_at', '=', checkedAt)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async insertPending(p: PendingLoginRecord, pruneBefore: number): Promise<void> {
    await this.db.deleteFrom('pending_logins').where('expires_at', '<', pruneBefore).execute();
    await this.db
      .insertInto('pending_logins')
      .values({ hash: p.hash, kind: p.kind, sealed: p.sealed, created_at: p.createdAt, expires_at: p.expiresAt, used_at: p.usedAt })
      .execute();
  }

  async usePending(hash: string, now: number): Promise<PendingLoginRecord | undefined> {
    const r = await this.db
      .updateTable('pending_logins')
      .set({ used_at: now })
      .where('hash', '=', hash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return undefined;
    return this.getPending(hash);
  }

  async getPending(hash: string): Promise<PendingLoginRecord | undefined> {
    const r = await this.db.selectFrom('pending_logins').selectAll().where('hash', '=', hash).executeTakeFirst();
    return r ? rowToPendingLogin(r) : undefined;
  }
}
