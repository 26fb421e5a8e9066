// PostgreSQL connector: ephemeral login roles and own-account role grants.
// Permissions are modelled as roles on the target (a profile's grants are role
// names), so every operation is CREATE/ALTER/DROP ROLE and GRANT/REVOKE of
// role membership. See README.md beside this file for the admin privileges
// it needs and a setup snippet.
//
// Safety rules, enforced here rather than trusted to callers:
// - identifiers go through pg.escapeIdentifier and literals through bind
//   parameters or pg.escapeLiteral (DDL takes no bind parameters);
// - only roles carrying the marker role are ever altered, removed or listed;
// - passwords travel as client-computed SCRAM verifiers and are scrubbed from
//   every error.

import pg from 'pg';
import { TargetError } from '../../core/errors.js';
import type {
  AccountInfo,
  BypassCheck,
  CreateAccountRequest,
  ExtendAccountRequest,
  GrantToAccountRequest,
  ListHoldersRequest,
  ListHoldersResponse,
  ListManagedResponse,
  RemoveAccountRequest,
  RemoveAccountResponse,
  RevokeFromAccountRequest,
  RevokeFromAccountResponse,
} from '../contract.js';
import { createPgPool } from '../../pg-pool.js';
import { defaultPoolSize } from '../contract.js';
import { operationError, type KindConnector, type Operation } from '../kit/operation.js';
import type { KindInput } from '../module.js';
import { existingRoles, listHolders, listMarked, roleState, serverVersionNum, terminateSessions, type RoleState } from './catalog.js';
import { createRemoval } from './removal.js';
import { checkHba, parseCidr } from './hba-check.js';
import { ident, literal, LOCK_NAMESPACE, lockSql, unlockSql } from './sql.js';
import { toTargetError } from './errors.js';
import { scramSha256Verifier } from './scram.js';
import { startScramWorker, workerCanHash } from './scram-worker.js';
import { identifierSchema, MAX_IDENTIFIER_BYTES, type PostgresSettings } from './settings.js';

/** The kind's operations; kit/create.ts parses the settings and wraps these (module.ts). */
export function openPostgres(input: KindInput<PostgresSettings>): KindConnector {
  const settings = input.settings;
  const target = input.target;
  const marker = settings.markerRole;
  const gatewayMarker = settings.gatewayMarkerRole;
  /** The gateway marker is a marker, not a permission: never among an account's grants. */
  const withoutGatewayMarker = (grants: string[]) => grants.filter((g) => g !== gatewayMarker);

  const pool = createPgPool({
    host: settings.host,
    port: settings.port,
    database: settings.database,
    user: input.adminUser,
    password: input.adminSecret,
    ssl: settings.sslmode === 'require' ? { rejectUnauthorized: false } : false,
    connectionTimeoutMillis: settings.connectTimeoutMs ?? 10_000,
    max: settings.maxConnections ?? defaultPoolSize(input.concurrency),
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
    application_name: 'stint',
    // A stuck lock becomes a retryable error instead of a hung revocation.
    lock_timeout: 30_000,
    // removeAccount reads the role's state in the statement after taking its
    // lock, in one message: that needs a fresh snapshot per statement, whatever
    // default a DBA set for the admin role (client options win over ALTER ROLE SET).
    options: '-c default_transaction_isolation=read\\ committed',
  });

  let closed = false;
  let markerReady: Promise<void> | null = null;
  let gatewayMarkerReady: Promise<void> | null = null;
  /** Verifiers computed ahead for secrets the broker announced (prepareSecret); each used once. */
  const prepared = new Map<string, Promise<string>>();
  const maxPrepared = 256;
  // Announced secrets go to the SCRAM worker in batches: those announced in one turn of the event loop together.
  const scram = startScramWorker();
  let batch: { secret: string; resolve(v: string): void; reject(e: unknown): void }[] = [];
  function hashAhead(secret: string): Promise<string> {
    if (!workerCanHash(secret)) return scramSha256Verifier(secret);
    return new Promise<string>((resolve, reject) => {
      if (batch.length === 0) {
        setImmediate(() => {
          const mine = batch;
          batch = [];
          scram.verifiers(mine.map((b) => b.secret)).then(
            (vs) => mine.forEach((b, i) => b.resolve(vs[i]!)),
            (err: unknown) => mine.forEach((b) => b.reject(err)),
          );
        });
      }
      batch.push({ secret, resolve, reject });
    });
  }
  let versionNum: Promise<number> | null = null;

  const fail = (operation: string, account: string, reason: string) => operationError('postgres', target, operation, account, reason);

  // Connections whose session state is unknown (a failed ROLLBACK or unlock,
  // a broken socket): destroyed on release instead of going back to the pool.
  const poisoned = new WeakSet<pg.PoolClient>();

  async function withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await pool.connect();
    try {
      return await fn(c);
    } catch (err) {
      if (!(err instanceof pg.DatabaseError) && !(err instanceof TargetError)) poisoned.add(c);
      // Second line of defence: an explicit block a failed step left open (ROLLBACK outside one only warns).
      else if (!poisoned.has(c)) await c.query('ROLLBACK').catch(() => poisoned.add(c));
      throw err;
    } finally {
      c.release(poisoned.has(c));
    }
  }

  async function inTransaction<T>(c: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
    await c.query('BEGIN');
    try {
      const out = await fn();
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => poisoned.add(c));
      throw err;
    }
  }

  /**
   * Holds a session-level advisory lock on the role name for the duration of
   * `fn`, so two brokers (or a retry racing the original) never interleave the
   * steps of create/remove on one account.
   */
  async function withAccountLock<T>(account: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withClient(async (c) => {
      await c.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', [LOCK_NAMESPACE, account]);
      try {
        return await fn(c);
      } finally {
        // If unlocking fails the connection is destroyed, which ends the
        // session and with it the lock; the operation's outcome stands.
        await c.query(unlockSql(account)).catch(() => poisoned.add(c));
      }
    });
  }

  function serverVersion(c: pg.PoolClient): Promise<number> {
    versionNum ??= serverVersionNum(c).catch((e: unknown) => {
      versionNum = null;
      throw e;
    });
    return versionNum;
  }

  /** Creates a NOLOGIN marker role once; a concurrent creator winning the race is success. */
  function ensureRole(role: string, comment: string): Promise<void> {
    return withClient(async (c) => {
      const res = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (res.rowCount) return;
      try {
        await inTransaction(c, async () => {
          await c.query(`CREATE ROLE ${ident(role)} NOLOGIN`);
          // Tells a DBA who finds this role what it is for.
          await c.query(`COMMENT ON ROLE ${ident(role)} IS ${literal(comment)}`);
        });
      } catch (err) {
        // 42710 duplicate_object, or 23505 when both inserts hit the catalog's unique index.
        const code = (err as { code?: unknown }).code;
        if (code !== '42710' && code !== '23505') throw err;
      }
    });
  }

  /** The marker, and the gateway marker when a gateway's account is made (only then: its existence says gateways use this target). */
  function ensureMarker(gateway: boolean): Promise<void> {
    markerReady ??= ensureRole(marker, 'Stint marker: members are ephemeral accounts managed by Stint').catch((e: unknown) => {
      markerReady = null;
      throw e;
    });
    if (!gateway) return markerReady;
    gatewayMarkerReady ??= ensureRole(
      gatewayMarker,
      'Stint gateway marker: members are accounts a Stint session gateway made for itself; pg_hba.conf should admit them only from the gateway',
    ).catch((e: unknown) => {
      gatewayMarkerReady = null;
      throw e;
    });
    return Promise.all([markerReady, gatewayMarkerReady]).then(() => undefined);
  }

  function requireManaged(operation: string, account: string, state: RoleState): void {
    if (!state.marked) {
      throw fail(
        operation,
        account,
        `the role exists but is not managed by Stint (not a member of marker role ${JSON.stringify(marker)}); it was left unchanged`,
      );
    }
  }

  const removal = createRemoval({
    marker,
    poisoned,
    withClient,
    fail,
    requireManaged,
    warn: (message) => input.warn?.(message),
    secrets: [input.adminSecret],
  });

  return {
    classify: (ctx, err) => toTargetError({ ...ctx, database: settings.database }, err),
    checkAccount: (account) =>
      identifierSchema.safeParse(account).success
        ? null
        : `account name must be 1-${MAX_IDENTIFIER_BYTES} bytes with no NUL (PostgreSQL would truncate or reject it)`,
    checkGrant(g) {
      if (!identifierSchema.safeParse(g).success) return `grant ${JSON.stringify(g)} is not a valid role name`;
      // Granting the marker would make an own account look Stint-managed, and reconcile would then remove it.
      if (g === marker || g === gatewayMarker) return `the marker role ${JSON.stringify(g)} cannot be granted`;
      return null;
    },

    async createAccount(req: CreateAccountRequest, { secret }: Operation): Promise<void> {
      const op = 'createAccount';
      const grants = [...new Set(req.grants)];
      // ISO 8601 with 'Z' is read as UTC whatever the session TimeZone is.
      const until = req.expiresAt.toISOString();
      await ensureMarker(req.gatewayOnly === true);
      const ahead = prepared.get(req.secret);
      prepared.delete(req.secret);
      // Should the worker have failed, compute it here after all.
      const verifier = await (ahead ? ahead.catch(() => scramSha256Verifier(req.secret)) : scramSha256Verifier(req.secret));
      secret(verifier);
      const who = ident(req.account);
      // A gateway's own account also carries the gateway marker, which pg_hba.conf admits only from the gateway.
      const markers = req.gatewayOnly ? [marker, gatewayMarker] : [marker];
      const create = `CREATE ROLE ${who} LOGIN PASSWORD ${literal(verifier)} VALID UNTIL ${literal(until)} IN ROLE ${markers.map(ident).join(', ')}`;
      // The common case is a fresh name the broker just chose: one round
      // trip. A multi-statement simple query runs as one implicit
      // transaction, so a failure (say, a grant of a missing role) leaves no
      // half-made account; the transaction-level advisory lock conflicts
      // with removal's locks on the same name (removal.ts). One CREATE
      // ROLE gives the memberships (IN ROLE: marker and grants) exactly as
      // separate GRANTs would — same grantor and options — but checks the
      // admin's rights once instead of once per statement, which on
      // PostgreSQL 16+ walks every membership the admin has, one per account
      // it manages.
      const oneStatement = `CREATE ROLE ${who} LOGIN PASSWORD ${literal(verifier)} VALID UNTIL ${literal(until)} IN ROLE ${[...markers, ...grants].map(ident).join(', ')}`;
      const fresh = [lockSql('pg_advisory_xact_lock', req.account), oneStatement];
      try {
        await withClient((c) => c.query(fresh.join(';\n')));
        return;
      } catch (err) {
        // 42710 duplicate_object (or 23505 when two creators hit the catalog's unique index at once):
        // the name exists already, typically a retry of this very grant. Take the careful path.
        const code = (err as { code?: unknown }).code;
        if (code !== '42710' && code !== '23505') throw err;
      }
      await withAccountLock(req.account, (c) =>
        // One transaction: a failure (say, a grant of a missing role) leaves no half-made account.
        inTransaction(c, async () => {
          const state = await roleState(c, req.account, marker);
          if (!state) {
            await c.query(create);
          } else {
            requireManaged(op, req.account, state);
            // Idempotent retry: bring the existing account to exactly the requested state.
            await c.query(`ALTER ROLE ${who} LOGIN PASSWORD ${literal(verifier)} VALID UNTIL ${literal(until)}`);
            for (const extra of withoutGatewayMarker(state.grants).filter((g) => !grants.includes(g))) {
              await c.query(`REVOKE ${ident(extra)} FROM ${who}`);
            }
            if (req.gatewayOnly && !state.grants.includes(gatewayMarker)) await c.query(`GRANT ${ident(gatewayMarker)} TO ${who}`);
          }
          for (const g of grants) await c.query(`GRANT ${ident(g)} TO ${who}`);
        }),
      );
    },

    prepareSecret(secret: string): void {
      if (closed || prepared.size >= maxPrepared || prepared.has(secret)) return;
      const verifier = hashAhead(secret);
      // A failure here is found again, and reported, by createAccount computing it afresh.
      verifier.catch(() => prepared.delete(secret));
      prepared.set(secret, verifier);
    },

    async extendAccount(req: ExtendAccountRequest): Promise<void> {
      const op = 'extendAccount';
      const until = req.expiresAt.toISOString();
      await withAccountLock(req.account, async (c) => {
        const state = await roleState(c, req.account, marker);
        if (!state) throw fail(op, req.account, 'the role does not exist');
        requireManaged(op, req.account, state);
        await c.query(`ALTER ROLE ${ident(req.account)} VALID UNTIL ${literal(until)}`);
      });
    },

    async removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse> {
      return withClient(async (c) => {
        const version = await serverVersion(c);
        return removal.remove(c, req.account, version);
      });
    },

    async grantToAccount(req: GrantToAccountRequest): Promise<void> {
      const op = 'grantToAccount';
      const grants = [...new Set(req.grants)];
      await withAccountLock(req.account, (c) =>
        inTransaction(c, async () => {
          const state = await roleState(c, req.account, marker);
          if (!state) throw fail(op, req.account, 'the account does not exist on the target');
          for (const g of grants) await c.query(`GRANT ${ident(g)} TO ${ident(req.account)}`);
        }),
      );
    },

    async revokeFromAccount(req: RevokeFromAccountRequest): Promise<RevokeFromAccountResponse> {
      const grants = [...new Set(req.grants)];
      return withAccountLock(req.account, async (c) => {
        const state = await roleState(c, req.account, marker);
        // Nothing to take away from an account that is gone.
        if (!state) return { terminatedSessions: 0 };
        // A role that does not exist cannot be held; skipping it keeps revoke idempotent.
        const present = await existingRoles(c, grants);
        await inTransaction(c, async () => {
          // On PostgreSQL 16+ this removes the membership this admin granted;
          // one granted by someone else (a standing grant) is left in place.
          for (const g of grants.filter((x) => present.has(x))) await c.query(`REVOKE ${ident(g)} FROM ${ident(req.account)}`);
        });
        const terminatedSessions = req.terminateSessions ? await terminateSessions(c, req.account, await serverVersion(c)) : 0;
        return { terminatedSessions };
      });
    },

    async listManaged(): Promise<ListManagedResponse> {
      return {
        accounts: (await withClient((c) => listMarked(c, marker))).map((a) => ({ ...a, grants: withoutGatewayMarker(a.grants) })),
      };
    },

    async listHolders(req: ListHoldersRequest): Promise<ListHoldersResponse> {
      // Names PostgreSQL could not hold (too long, NUL) and the marker itself are nobody's privilege.
      const grants = [...new Set(req.grants)].filter((g) => g !== marker && identifierSchema.safeParse(g).success);
      return { holders: await withClient((c) => listHolders(c, grants, marker)) };
    },

    async describeAccount(req: { account: string }): Promise<AccountInfo> {
      const state = await withClient((c) => roleState(c, req.account, marker));
      return { account: req.account, exists: state !== null, grants: withoutGatewayMarker(state?.grants ?? []) };
    },

    /**
     * pg_hba.conf must admit members of the gateway marker only from the
     * gateway (hba-check.ts). Reading pg_hba_file_rules takes SELECT on it and
     * EXECUTE on pg_hba_file_rules() (README.md); without them: unknown.
     */
    async checkBypass(): Promise<BypassCheck[]> {
      const check = 'pg_hba:gateway-accounts';
      return withClient(async (c) => {
        if (!settings.gatewayAddresses) {
          const made = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [gatewayMarker]);
          // No gateway has made accounts here: nothing to keep inside it.
          if (!made.rowCount) return [];
          return [
            {
              check,
              status: 'unknown' as const,
              message: `cannot verify: set gatewayAddresses in the target's settings (the addresses the target sees the gateway connect from) to check pg_hba.conf for members of "${gatewayMarker}"`,
            },
          ];
        }
        let rows;
        try {
          rows = (
            await c.query<{
              line_number: number;
              type: string;
              database: string[];
              user_name: string[];
              address: string | null;
              netmask: string | null;
              auth_method: string;
              error: string | null;
            }>(
              'SELECT line_number, type, database, user_name, address, netmask, auth_method, error FROM pg_hba_file_rules ORDER BY ' +
                ((await serverVersion(c)) >= 160000 ? 'rule_number NULLS LAST, line_number' : 'line_number'),
            )
          ).rows;
        } catch (err) {
          if ((err as { code?: unknown }).code !== '42501') throw err;
          return [
            {
              check,
              status: 'unknown' as const,
              message: `cannot verify: the admin may not read pg_hba_file_rules (GRANT SELECT ON pg_hba_file_rules TO ${ident(input.adminUser)}; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO ${ident(input.adminUser)})`,
            },
          ];
        }
        const rules = rows.map((r) => ({
          line: r.line_number,
          type: r.type,
          database: r.database ?? [],
          users: r.user_name ?? [],
          address: r.address,
          netmask: r.netmask,
          method: r.auth_method,
          error: r.error,
        }));
        const verdict = checkHba(
          rules,
          [gatewayMarker, marker],
          settings.gatewayAddresses.map((a) => parseCidr(a)!),
        );
        return [{ check, ...verdict }];
      });
    },

    async checkHealth(): Promise<void> {
      await pool.query('SELECT 1');
    },

    connectionInfo() {
      return { host: settings.host, port: settings.port, database: settings.database };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // Before the pool goes: one last look for late sessions of the accounts dropped in the last seconds.
      await removal.close();
      prepared.clear();
      await scram.close();
      await pool.end();
    },
  };
}
