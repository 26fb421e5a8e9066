// The Store port's smaller record families over Kysely: tokens, break-glass
// activations, connect tokens, SSH keys, target credentials and meta. The base
// of KyselyStoreTx (kysely-tx.ts, requests, grants, audit and sign-ins), which
// holds the connection and the statement helpers both use.

import type { Kysely, Transaction } from 'kysely';
import type { Store } from '../core/ports.js';
import type { BreakGlassRecord, ConnectTokenRecord, SshKeyRecord, TokenRecord } from '../core/types.js';
import { rowToBreakGlass, rowToSshKey, rowToToken, sshKeyToRow, tokenToRow } from './rows.js';
import type { Database, Row } from './schema.js';
import { rowOf, rowShape, type StatementCache } from './statement-cache.js';

export type StoreDialect = Store['dialect'];

export class KyselyRecordsTx {
  constructor(
    protected readonly db: Kysely<Database> | Transaction<Database>,
    protected readonly dialectName: StoreDialect,
    /** Shared by the store and all its transactions. */
    protected readonly statements: StatementCache,
  ) {}

  // ---- the hot statements, compiled once per shape (statement-cache.ts)

  protected async insertRow<T extends keyof Database & string>(table: T, row: object): Promise<void> {
    const { shape, keys, values } = rowShape(table, row);
    await this.db.executeQuery(this.statements.get(`insert ${shape}`, values, (v) => this.db.insertInto(table).values(rowOf(keys, v) as never)));
  }

  protected async byKey<T extends 'requests' | 'grants' | 'tokens'>(table: T, column: 'id' | 'hash', key: string): Promise<Row<T> | undefined> {
    const q = this.statements.get(`select ${table} by ${column}`, [key], ([k]) =>
      this.db
        .selectFrom(table as 'grants')
        .selectAll()
        .where(column as 'id', '=', k as string),
    );
    return (await this.db.executeQuery(q)).rows[0] as Row<T> | undefined;
  }

  // ---- tokens

  async insertToken(t: TokenRecord): Promise<void> {
    await this.db.insertInto('tokens').values(tokenToRow(t)).execute();
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const row = await this.byKey('tokens', 'hash', hash);
    return row ? rowToToken(row) : undefined;
  }

  /** Oldest first. */
  async listTokens(user?: string): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom('tokens')
      .selectAll()
      .$if(user !== undefined, (q) => q.where('user_name', '=', user!))
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(rowToToken);
  }

  /** True when this call revoked it; false when unknown or already revoked (the first revocation time stays). */
  async revokeToken(id: string, at: number): Promise<boolean> {
    const r = await this.db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return r.numUpdatedRows === 1n;
  }

  /**
   * Records a use at `at`, unless one after `at - minGapMs` is already
   * recorded: at most one write per token per gap, across brokers. True when written.
   */
  async touchToken(id: string, at: number, minGapMs: number): Promise<boolean> {
    const r = await this.db
      .updateTable('tokens')
      .set({ last_used_at: at })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', at - minGapMs)]))
      .executeTakeFirst();
    return r.numUpdatedRows === 1n;
  }

  // ---- break-glass activations

  async insertBreakGlass(b: BreakGlassRecord): Promise<void> {
    await this.db
      .insertInto('break_glass')
      .values({
        grant_id: b.grantId,
        request_id: b.requestId,
        user_name: b.user,
        profile: b.profile,
        target: b.target,
        reason: b.reason,
        created_at: b.createdAt,
        reviewed_at: b.reviewedAt,
        reviewed_by: b.reviewedBy,
        review_comment: b.reviewComment,
      })
      .execute();
  }

  async getBreakGlass(grantId: string): Promise<BreakGlassRecord | undefined> {
    const row = await this.db.selectFrom('break_glass').selectAll().where('grant_id', '=', grantId).executeTakeFirst();
    return row ? rowToBreakGlass(row) : undefined;
  }

  /** Oldest first; `open`: only those not reviewed yet. */
  async listBreakGlass(filter: { open?: boolean; limit?: number }): Promise<BreakGlassRecord[]> {
    const rows = await this.db
      .selectFrom('break_glass')
      .selectAll()
      .$if(filter.open === true, (q) => q.where('reviewed_at', 'is', null))
      .orderBy('created_at')
      .orderBy('grant_id')
      .limit(filter.limit ?? 500)
      .execute();
    return rows.map(rowToBreakGlass);
  }

  /** Records the review once: true when this call recorded it (false: unknown or already reviewed). */
  async reviewBreakGlass(grantId: string, by: string, comment: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable('break_glass')
      .set({ reviewed_at: at, reviewed_by: by, review_comment: comment })
      .where('grant_id', '=', grantId)
      .where('reviewed_at', 'is', null)
      .executeTakeFirst();
    return r.numUpdatedRows === 1n;
  }

  // ---- connect tokens

  async insertConnectToken(t: ConnectTokenRecord, pruneBefore: number): Promise<void> {
    await this.db.deleteFrom('connect_tokens').where('expires_at', '<', pruneBefore).execute();
    await this.db
      .insertInto('connect_tokens')
      .values({ hash: t.hash, user_name: t.user, profile: t.profile, created_at: t.createdAt, expires_at: t.expiresAt, used_at: t.usedAt })
      .execute();
  }

  async useConnectToken(hash: string, profile: string, now: number): Promise<ConnectTokenRecord | undefined> {
    // One conditional UPDATE decides who uses it; the read after it only reports.
    const r = await this.db
      .updateTable('connect_tokens')
      .set({ used_at: now })
      .where('hash', '=', hash)
      .where('profile', '=', profile)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (r.numUpdatedRows !== 1n) return undefined;
    const row = await this.db.selectFrom('connect_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row
      ? { hash: row.hash, user: row.user_name, profile: row.profile, createdAt: row.created_at, expiresAt: row.expires_at, usedAt: row.used_at }
      : undefined;
  }

  // ---- ssh keys

  async insertSshKey(k: SshKeyRecord): Promise<void> {
    await this.db.insertInto('ssh_keys').values(sshKeyToRow(k)).execute();
  }

  async getSshKey(id: string): Promise<SshKeyRecord | undefined> {
    const row = await this.db.selectFrom('ssh_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? rowToSshKey(row) : undefined;
  }

  async findSshKeyByFingerprint(fingerprint: string): Promise<SshKeyRecord | undefined> {
    const row = await this.db.selectFrom('ssh_keys').selectAll().where('fingerprint', '=', fingerprint).executeTakeFirst();
    return row ? rowToSshKey(row) : undefined;
  }

  async listSshKeys(user?: string): Promise<SshKeyRecord[]> {
    const rows = await this.db
      .selectFrom('ssh_keys')
      .selectAll()
      .$if(user !== undefined, (q) => q.where('user_name', '=', user!))
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(rowToSshKey);
  }

  async deleteSshKey(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('ssh_keys').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows === 1n;
  }

  // ---- target credentials and meta

  async putTargetCredential(target: string, sealed: string, at: number): Promise<void> {
    await this.db
      .insertInto('target_credentials')
      .values({ target, sealed, updated_at: at })
      .onConflict((oc) => oc.column('target').doUpdateSet({ sealed, updated_at: at }))
      .execute();
  }

  async getTargetCredential(target: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('target_credentials').select('sealed').where('target', '=', target).executeTakeFirst();
    return row?.sealed;
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }
}
