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
import { z } from 'zod';
import { TargetError, invalid } from '../../core/errors.js';
import type {
  AccountInfo,
  Connector,
  ConnectorFactoryInput,
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
import { defaultPoolSize } from '../contract.js';
import {
  existingRoles, listHolders, listMarked, quickRemovalStateOf, quickRemovalStateSql, removalStateOf, removalStateSql, roleState, serverVersionNum, terminateOrphanSessions, terminateSessions, terminateSessionsOfOidSql, terminateSessionsSql,
  type QuickRemovalState, type RoleState,
} from './catalog.js';
import { safeErrorText } from '../../core/scrub.js';
import { createOrphanSweep } from './orphan-sweep.js';
import { describeOperation, toTargetError } from './pg-errors.js';
import { scramSha256Verifier } from './scram.js';
import { startScramWorker, workerCanHash } from './scram-worker.js';

// PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1), which
// would make the role we create differ from the one we later look up.
const MAX_IDENTIFIER_BYTES = 63;

const identifierSchema = z
  .string()
  .min(1)
  .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_IDENTIFIER_BYTES && !s.includes('\0'), {
    message: `must be at most ${MAX_IDENTIFIER_BYTES} bytes and contain no NUL`,
  });

export const postgresSettingsSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  database: z.string().min(1),
  /** `require` encrypts without verifying the server certificate, as libpq's sslmode=require. */
  sslmode: z.enum(['disable', 'require']).optional(),
  /** NOLOGIN role every ephemeral account is made a member of; only its members are ever removed. */
  markerRole: identifierSchema.default('stint_managed'),
  connectTimeoutMs: z.number().int().positive().optional(),
  maxConnections: z.number().int().min(1).max(100).optional(),
});

export type PostgresSettings = z.infer<typeof postgresSettingsSchema>;

const ident = (s: string) => pg.escapeIdentifier(s);
const literal = (s: string) => pg.escapeLiteral(s);

// Namespace for advisory locks that serialise operations on one role name.
const LOCK_NAMESPACE = 'stint.role';

/** `SELECT <fn>(ns, name)` with both keys as literals (for multi-statement simple queries, which take no parameters). */
const lockSql = (fn: 'pg_advisory_lock' | 'pg_advisory_xact_lock', account: string) =>
  `SELECT ${fn}(hashtext(${literal(LOCK_NAMESPACE)}), hashtext(${literal(account)}))`;
const unlockSql = (account: string) => `SELECT pg_advisory_unlock(hashtext(${literal(LOCK_NAMESPACE)}), hashtext(${literal(account)}))`;

/**
 * The admin takes the privileges of an account it manages, at removal and
 * only when it needs them: on PostgreSQL 16+ a CREATEROLE admin otherwise
 * holds only ADMIN OPTION, which is not enough to signal the account's
 * backends, to REASSIGN/DROP OWNED it, or to revoke privileges another managed
 * account granted it. It gains nothing it could not grant itself already, and
 * the membership goes with DROP ROLE. Not at creation: an admin that inherits
 * every live account makes each of PostgreSQL's checks of its rights walk all
 * of them (DROP ROLE ran 3x slower with 3000 accounts).
 */
// WITH INHERIT TRUE: on 16+ a membership's INHERIT otherwise follows the
// admin's own rolinherit, and a NOINHERIT admin would gain nothing from it.
const adminSelfGrant = (who: string, serverVersion: number) => `GRANT ${who} TO CURRENT_USER${serverVersion >= 160000 ? ' WITH INHERIT TRUE' : ''}`;

/** Errors after which removeInOneStatement hands over to removeCarefully. */
const CAREFUL_AFTER = new Set([
  '2BP01', // something depends on the role (it came to, after it was read)
  '42501', // ending a session of the role took a privilege the admin lacks
  '55P03', // DROP ROLE waited too long for a lock: a session of the role holds one (an uncommitted temporary table, say)
]);

/** Errors after which removeCarefully runs once more with every step. */
const FORCE_AFTER = new Set(['2BP01', '42501']);

/** How long the one-statement removal's DROP ROLE waits for a lock before going the careful way. */
const QUICK_DROP_LOCK_TIMEOUT = '200ms';

export function createPostgresConnector(input: ConnectorFactoryInput): Connector {
  const parsed = postgresSettingsSchema.safeParse(input.settings);
  if (!parsed.success) {
    throw invalid(`postgres target ${JSON.stringify(input.target)}: invalid settings: ${z.prettifyError(parsed.error)}`);
  }
  if (!input.adminUser) throw invalid(`postgres target ${JSON.stringify(input.target)}: adminUser is required`);
  const settings = parsed.data;
  const target = input.target;
  const marker = settings.markerRole;

  const pool = new pg.Pool({
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
  // An idle pooled connection that dies (server restart) emits 'error' on the
  // pool; without a listener that would crash the broker. The next query
  // reports the problem where it can be handled.
  pool.on('error', () => {});

  let closed = false;
  let markerReady: Promise<void> | null = null;
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

  const fail = (operation: string, account: string, reason: string) =>
    new TargetError(target, `${describeOperation({ target, operation, account })}: ${reason}`, false);

  /** Runs `fn`, converting anything thrown into a scrubbed TargetError. */
  async function run<T>(operation: string, account: string | undefined, secrets: string[], fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const ctx = { target, operation, database: settings.database, secrets: [...secrets, input.adminSecret] };
      throw toTargetError(account === undefined ? ctx : { ...ctx, account }, err);
    }
  }

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

  // Sessions of dropped roles that got in while they were being removed (orphan-sweep.ts).
  const orphans = createOrphanSweep({
    look: (oids) => withClient((c) => terminateOrphanSessions(c, oids)),
    warn: (message) => input.warn?.(message),
    describeError: (err) => safeErrorText(err, [input.adminSecret]),
  });
  const sweepLater = (oid: string) => orphans.add(oid);

  // Whether the admin holds pg_signal_backend's rights, looked at again after a minute (a DBA may grant it meanwhile).
  let signal: { at: number; ok: Promise<boolean> } | null = null;
  function canSignal(c: pg.PoolClient): Promise<boolean> {
    if (!signal || Date.now() - signal.at > 60_000) {
      const ok = c
        .query<{ ok: boolean }>(`SELECT pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS ok`)
        .then((r) => r.rows[0]?.ok === true)
        .catch((e: unknown) => {
          signal = null;
          throw e;
        });
      signal = { at: Date.now(), ok };
    }
    return signal.ok;
  }

  function serverVersion(c: pg.PoolClient): Promise<number> {
    versionNum ??= serverVersionNum(c).catch((e: unknown) => {
      versionNum = null;
      throw e;
    });
    return versionNum;
  }

  /** Creates the NOLOGIN marker role once; a concurrent creator winning the race is success. */
  function ensureMarker(): Promise<void> {
    markerReady ??= withClient(async (c) => {
      const res = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [marker]);
      if (res.rowCount) return;
      try {
        await inTransaction(c, async () => {
          await c.query(`CREATE ROLE ${ident(marker)} NOLOGIN`);
          // Tells a DBA who finds this role what it is for.
          await c.query(`COMMENT ON ROLE ${ident(marker)} IS ${literal('Stint marker: members are ephemeral accounts managed by Stint')}`);
        });
      } catch (err) {
        // 42710 duplicate_object, or 23505 when both inserts hit the catalog's unique index.
        const code = (err as { code?: unknown }).code;
        if (code !== '42710' && code !== '23505') throw err;
      }
    }).catch((e: unknown) => {
      markerReady = null;
      throw e;
    });
    return markerReady;
  }

  function checkName(operation: string, account: string): void {
    if (!identifierSchema.safeParse(account).success) {
      throw fail(operation, account, `account name must be 1-${MAX_IDENTIFIER_BYTES} bytes with no NUL (PostgreSQL would truncate or reject it)`);
    }
  }

  function checkGrants(operation: string, account: string, grants: string[]): string[] {
    for (const g of grants) {
      if (!identifierSchema.safeParse(g).success) throw fail(operation, account, `grant ${JSON.stringify(g)} is not a valid role name`);
      // Granting the marker would make an own account look Stint-managed, and reconcile would then remove it.
      if (g === marker) throw fail(operation, account, `the marker role ${JSON.stringify(marker)} cannot be granted`);
    }
    return [...new Set(grants)];
  }

  function checkExpiry(operation: string, account: string, at: Date): string {
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw fail(operation, account, 'expiresAt is not a valid date');
    // ISO 8601 with 'Z' is read as UTC whatever the session TimeZone is.
    return at.toISOString();
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

  /**
   * The usual removal — a role nothing depends on, by an admin holding
   * pg_signal_backend — with one role statement, under a transaction-level
   * advisory lock on the name: read the role; DROP ROLE and end its sessions
   * (found by OID), COMMIT; then end any session that got in meanwhile. On
   * PostgreSQL 16+ every statement that checks a CREATEROLE admin's rights
   * walks all its memberships (one per account it manages), so a removal with
   * one such statement goes as fast as a bare DROP ROLE; with NOLOGIN first,
   * half as fast.
   *
   * The sessions are ended before the COMMIT, while the DROP is not visible to
   * them; a login that gets in after that is found by OID just after it.
   * Ending a session of a role that is (being) dropped takes pg_signal_backend,
   * so without it this returns 'careful' at once. It also does so for a role
   * with dependents, one that is not managed (the careful path says so), and
   * on 2BP01 (something came to depend on it), 42501, or 55P03: a session of
   * the role holds a lock DROP ROLE needs (say, an uncommitted temporary
   * table), so the DROP waits at most QUICK_DROP_LOCK_TIMEOUT and the careful
   * path's NOLOGIN and termination clear it. The caller then runs
   * removeCarefully, which reads the role again.
   */
  async function removeInOneStatement(c: pg.PoolClient, account: string, version: number): Promise<RemoveAccountResponse | 'careful'> {
    if (!(await canSignal(c))) return 'careful';
    let oid: string;
    let done: pg.QueryResult[];
    try {
      const first = (await c.query(
        ['BEGIN', lockSql('pg_advisory_xact_lock', account), quickRemovalStateSql(literal(account), literal(marker))].join(';\n'),
      )) as unknown as pg.QueryResult[];
      const state = quickRemovalStateOf(first[2]!.rows[0]);
      if (!state) {
        await c.query('COMMIT');
        return { existed: false, terminatedSessions: 0 };
      }
      if (!state.marked || state.hasDependents) {
        await c.query('COMMIT');
        return 'careful';
      }
      oid = state.oid;
      // Looked at again whatever happens next: the drop may commit and a later step fail.
      sweepLater(oid);
      done = (await c.query(
        [`SET LOCAL lock_timeout = ${literal(QUICK_DROP_LOCK_TIMEOUT)}`, `DROP ROLE IF EXISTS ${ident(account)}`, terminateSessionsOfOidSql(oid, version), 'COMMIT'].join(';\n'),
      )) as unknown as pg.QueryResult[];
    } catch (err) {
      // Whatever failed, no block is left open on a connection that goes back to the pool.
      await c.query('ROLLBACK').catch(() => poisoned.add(c));
      if (!poisoned.has(c) && CAREFUL_AFTER.has((err as { code?: string }).code ?? '')) return 'careful';
      throw err;
    }
    const n = (r: pg.QueryResult | undefined) => (r?.rows[0] as { n?: number } | undefined)?.n ?? 0;
    // The role is gone. A failure from here on is reported (and the grant retried, which then finds no role).
    const late = await c.query<{ n: number }>(terminateSessionsOfOidSql(oid, version)).catch((err: unknown) => {
      throw fail('removeAccount', account, `the role was dropped, but ending a session that logged in during the removal failed (${safeErrorText(err)}); look for backends of role OID ${oid} and end them with pg_terminate_backend`);
    });
    return { existed: true, terminatedSessions: n(done[2]) + n(late) };
  }

  /**
   * Removal that takes every step: under a session-level advisory lock on the
   * name, read the role; then, in one round trip, stopping at the first error:
   * - NOLOGIN committed on its own, first: even if a later step fails, no new
   *   session can start with this account. When it has sessions or dependents
   *   (or `force`), the admin takes its privileges (adminSelfGrant) and those of
   *   the managed accounts that granted it privileges;
   * - its sessions are ended, each waited for (14+), so the DROP below does not
   *   race a dying session's locks;
   * - REASSIGN OWNED and DROP OWNED, when anything depends on the role. They act
   *   on the connected database only (plus shared objects). Objects or
   *   privileges the role holds in other databases make DROP ROLE fail with
   *   2BP01; the error then says so (pg-errors.ts), and the role stays NOLOGIN;
   * - DROP ROLE, and the lock is released.
   * If a session or a dependent appeared after the read (42501 ending a session
   * without the role's privileges, 2BP01), it runs once more with every step.
   */
  async function removeCarefully(c: pg.PoolClient, account: string, version: number, force = false): Promise<RemoveAccountResponse> {
    const who = ident(account);
    const name = literal(account);
    let locked = true;
    try {
      const first = (await c.query(`${lockSql('pg_advisory_lock', account)};\n${removalStateSql(name, literal(marker), version)}`)) as unknown as pg.QueryResult[];
      const state = removalStateOf(first[1]!.rows[0]);
      if (!state) return { existed: false, terminatedSessions: 0 };
      requireManaged('removeAccount', account, state);
      sweepLater(state.oid);
      const cleanup = state.hasDependents || force ? [`REASSIGN OWNED BY ${who} TO CURRENT_USER`, `DROP OWNED BY ${who}`] : [];
      const rights = [
        ...(!state.adminMember && (state.hasSessions || state.hasDependents || force) ? [adminSelfGrant(who, version)] : []),
        ...(state.hasDependents || force ? state.grantingAccounts.map((a) => adminSelfGrant(ident(a), version)) : []),
      ];
      const terminate = terminateSessionsSql(name, version);
      const batch = [
        'BEGIN', `ALTER ROLE ${who} NOLOGIN`, 'COMMIT',
        ...(rights.length ? ['BEGIN', ...rights, 'COMMIT'] : []),
        terminate,
        'BEGIN', ...cleanup, `DROP ROLE IF EXISTS ${who}`, 'COMMIT',
        unlockSql(account),
      ];
      try {
        const results = (await c.query(batch.join(';\n'))) as unknown as pg.QueryResult[];
        locked = false;
        return { existed: true, terminatedSessions: (results[batch.indexOf(terminate)]?.rows[0] as { n?: number } | undefined)?.n ?? 0 };
      } catch (err) {
        if (force || !FORCE_AFTER.has((err as { code?: string }).code ?? '')) throw err;
        await c.query('ROLLBACK');
        await c.query(unlockSql(account));
        locked = false;
        return await removeCarefully(c, account, version, true);
      }
    } catch (err) {
      // A failed statement leaves an explicit block aborted; end it before unlocking.
      await c.query('ROLLBACK').catch(() => poisoned.add(c));
      throw err;
    } finally {
      // If unlocking fails the connection is destroyed, which ends the
      // session and with it the lock; the operation's outcome stands.
      if (locked && !poisoned.has(c)) await c.query(unlockSql(account)).catch(() => poisoned.add(c));
    }
  }

  return {
    kind: 'postgres',
    target,

    async createAccount(req: CreateAccountRequest): Promise<void> {
      const op = 'createAccount';
      const secrets = [req.secret];
      await run(op, req.account, secrets, async () => {
        checkName(op, req.account);
        const grants = checkGrants(op, req.account, req.grants);
        const until = checkExpiry(op, req.account, req.expiresAt);
        await ensureMarker();
        const ahead = prepared.get(req.secret);
        prepared.delete(req.secret);
        // Should the worker have failed, compute it here after all.
        const verifier = await (ahead ? ahead.catch(() => scramSha256Verifier(req.secret)) : scramSha256Verifier(req.secret));
        secrets.push(verifier);
        const who = ident(req.account);
        const create = `CREATE ROLE ${who} LOGIN PASSWORD ${literal(verifier)} VALID UNTIL ${literal(until)} IN ROLE ${ident(marker)}`;
        // The common case is a fresh name the broker just chose: one round
        // trip. A multi-statement simple query runs as one implicit
        // transaction, so a failure (say, a grant of a missing role) leaves no
        // half-made account; the transaction-level advisory lock conflicts
        // with removeAccount's session-level one on the same name. One CREATE
        // ROLE gives the memberships (IN ROLE: marker and grants) exactly as
        // separate GRANTs would — same grantor and options — but checks the
        // admin's rights once instead of once per statement, which on
        // PostgreSQL 16+ walks every membership the admin has, one per account
        // it manages.
        const oneStatement = `CREATE ROLE ${who} LOGIN PASSWORD ${literal(verifier)} VALID UNTIL ${literal(until)} IN ROLE ${[marker, ...grants].map(ident).join(', ')}`;
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
              for (const extra of state.grants.filter((g) => !grants.includes(g))) {
                await c.query(`REVOKE ${ident(extra)} FROM ${who}`);
              }
            }
            for (const g of grants) await c.query(`GRANT ${ident(g)} TO ${who}`);
          }),
        );
      });
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
      await run(op, req.account, [], async () => {
        checkName(op, req.account);
        const until = checkExpiry(op, req.account, req.expiresAt);
        await withAccountLock(req.account, async (c) => {
          const state = await roleState(c, req.account, marker);
          if (!state) throw fail(op, req.account, 'the role does not exist');
          requireManaged(op, req.account, state);
          await c.query(`ALTER ROLE ${ident(req.account)} VALID UNTIL ${literal(until)}`);
        });
      });
    },

    async removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse> {
      const op = 'removeAccount';
      return run(op, req.account, [], async () => {
        checkName(op, req.account);
        return withClient(async (c) => {
          const version = await serverVersion(c);
          const quick = await removeInOneStatement(c, req.account, version);
          if (quick !== 'careful') return quick;
          return removeCarefully(c, req.account, version);
        });
      });
    },

    async grantToAccount(req: GrantToAccountRequest): Promise<void> {
      const op = 'grantToAccount';
      await run(op, req.account, [], async () => {
        checkName(op, req.account);
        const grants = checkGrants(op, req.account, req.grants);
        await withAccountLock(req.account, (c) =>
          inTransaction(c, async () => {
            const state = await roleState(c, req.account, marker);
            if (!state) throw fail(op, req.account, 'the account does not exist on the target');
            for (const g of grants) await c.query(`GRANT ${ident(g)} TO ${ident(req.account)}`);
          }),
        );
      });
    },

    async revokeFromAccount(req: RevokeFromAccountRequest): Promise<RevokeFromAccountResponse> {
      const op = 'revokeFromAccount';
      return run(op, req.account, [], async () => {
        checkName(op, req.account);
        const grants = checkGrants(op, req.account, req.grants);
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
      });
    },

    async listManaged(): Promise<ListManagedResponse> {
      return run('listManaged', undefined, [], async () => ({ accounts: await withClient((c) => listMarked(c, marker)) }));
    },

    async listHolders(req: ListHoldersRequest): Promise<ListHoldersResponse> {
      return run('listHolders', undefined, [], async () => {
        // Names PostgreSQL could not hold (too long, NUL) and the marker itself are nobody's privilege.
        const grants = [...new Set(req.grants)].filter((g) => g !== marker && identifierSchema.safeParse(g).success);
        return { holders: await withClient((c) => listHolders(c, grants, marker)) };
      });
    },

    async describeAccount(req: { account: string }): Promise<AccountInfo> {
      const op = 'describeAccount';
      return run(op, req.account, [], async () => {
        checkName(op, req.account);
        const state = await withClient((c) => roleState(c, req.account, marker));
        return { account: req.account, exists: state !== null, grants: state?.grants ?? [] };
      });
    },

    async checkHealth(): Promise<void> {
      await run('checkHealth', undefined, [], async () => {
        await pool.query('SELECT 1');
      });
    },

    connectionInfo() {
      return { host: settings.host, port: settings.port, database: settings.database };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // Before the pool goes: one last look for late sessions of the accounts dropped in the last seconds.
      await orphans.close();
      prepared.clear();
      await scram.close();
      await pool.end();
    },
  };
}
