// MariaDB connector (kind `mysql`): ephemeral `user`@`host` accounts and
// own-account grants. A grant is a role or one object privilege (grammar.ts).
// See README.md beside this file for the admin's minimum privileges.
//
// Safety rules, enforced here rather than trusted to callers:
// - names are quoted with backticks (mysql2 escapeId, never split on dots);
//   catalog lookups bind names as parameters; the few literals DDL needs
//   (event bodies) go through mysql2 escape with sql_mode pinned per session;
// - only plain members of the marker role are ever altered, removed or listed;
// - the password travels as a client-computed mysql_native_password hash and
//   every error is scrubbed of the secret, its hash and the admin secret.

import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { TargetError } from '../../core/errors.js';
import type {
  AccountInfo,
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
import { operationError, type KindConnector, type Operation } from '../kit/operation.js';
import type { KindInput } from '../module.js';
import { defaultPoolSize } from '../contract.js';
import { accountState, currentAccount, existingRoles, expiryEvents, grantsOf, killSessions, listMarked, type AccountState } from './catalog.js';
import { listHolders } from './holders.js';
import { createExpiryEventSql, dropExpiryEventSql } from './expiry-event.js';
import {
  checkAccountText,
  eventName,
  formatAccount,
  formatGrant,
  grantObject,
  lockName,
  nativePasswordHash,
  parseAccount,
  parseGrant,
  parseUtcDateTime,
  quoteAccount,
  quoteId,
  type Account,
  type Grant,
} from './grammar.js';
import { toTargetError } from './errors.js';
import type { MysqlSettings } from './settings.js';

// Pinned per session: no NO_BACKSLASH_ESCAPES or ANSI_QUOTES (our literal
// escaping relies on that), NO_AUTO_CREATE_USER so a GRANT can never create a
// passwordless account, UTC so event times mean what we wrote.
const SESSION_INIT = `SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_CREATE_USER', time_zone = '+00:00', lock_wait_timeout = 30`;
const LOCK_TIMEOUT_S = 30;

/** The kind's operations; kit/create.ts parses the settings and wraps these (module.ts). */
export function openMysql(input: KindInput<MysqlSettings>): KindConnector {
  const settings = input.settings;
  const target = input.target;
  const marker = settings.markerRole;
  const useEvents = settings.nativeExpiry === 'event';
  const ssl = settings.tls === 'require' ? { rejectUnauthorized: false } : undefined;

  const pool: Pool = mysql.createPool({
    host: settings.host,
    port: settings.port,
    user: input.adminUser,
    password: input.adminSecret,
    ...(ssl ? { ssl } : {}),
    connectTimeout: settings.connectTimeoutMs,
    connectionLimit: settings.maxConnections ?? defaultPoolSize(input.concurrency),
    maxIdle: settings.maxConnections ?? defaultPoolSize(input.concurrency),
    idleTimeout: 30_000,
    enableKeepAlive: true,
    multipleStatements: false,
    dateStrings: true,
    charset: 'utf8mb4_unicode_ci',
  });
  // A pooled connection that dies emits 'error' on the core pool; the next
  // query reports the problem where it can be handled.
  (pool as unknown as { pool: { on(e: string, f: () => void): void } }).pool.on('error', () => {});

  let closed = false;
  let markerReady: Promise<void> | null = null;
  let self: Account | null = null;
  const initialised = new WeakSet<object>();

  const fail = (operation: string, account: string | undefined, reason: string, retryable = false) =>
    operationError('mysql', target, operation, account, reason, retryable);

  async function withConn<T>(fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    if (closed) throw new TargetError(target, `mysql target ${JSON.stringify(target)}: the connector is closed`, false);
    const c = await pool.getConnection();
    let broken = false;
    try {
      if (!initialised.has(c.connection)) {
        await c.query(SESSION_INIT);
        initialised.add(c.connection);
      }
      return await fn(c);
    } catch (err) {
      // A server error leaves the session usable; anything else (a dead
      // socket, a timeout) may not, so that connection is not reused.
      const e = err as { errno?: unknown; sqlMessage?: unknown };
      broken = !(err instanceof TargetError) && !(typeof e.errno === 'number' && typeof e.sqlMessage === 'string');
      throw err;
    } finally {
      if (broken) c.destroy();
      else c.release();
    }
  }

  /** Serialises operations on one account across brokers (GET_LOCK is server-wide). */
  async function withAccountLock<T>(operation: string, text: string, a: Account, fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    return withConn(async (c) => {
      const name = lockName(a);
      const [rows] = await c.execute<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [name, LOCK_TIMEOUT_S]);
      if (Number(rows[0]?.got) !== 1) throw fail(operation, text, `another operation on this account held its lock for ${LOCK_TIMEOUT_S} s`, true);
      try {
        return await fn(c);
      } finally {
        // If this fails the connection is broken and the lock died with it.
        await c.execute('SELECT RELEASE_LOCK(?)', [name]).catch(() => {});
      }
    });
  }

  /** Creates the marker role once; a concurrent creator winning the race is fine (IF NOT EXISTS). */
  function ensureMarker(): Promise<void> {
    markerReady ??= withConn(async (c) => {
      if ((await existingRoles(c, [marker])).size > 0) return;
      // The creator is granted the role WITH ADMIN OPTION, which it needs to grant it.
      await c.query(`CREATE ROLE IF NOT EXISTS ${quoteId(marker)}`);
    }).catch((e: unknown) => {
      markerReady = null;
      throw e;
    });
    return markerReady;
  }

  /** An account string the operation wrapper has checked (checkAccount below). */
  const account = (text: string): Account => parseAccount(text, settings.accountHost);

  /** Grants the operation wrapper has checked (checkGrant below), parsed. */
  function grantsOfRequest(op: Operation, grants: string[]): Grant[] {
    const out: Grant[] = [];
    for (const g of new Set(grants)) {
      const p = parseGrant(g);
      if ('error' in p) throw op.fail(`grant ${JSON.stringify(g)} is invalid: ${p.error}`);
      out.push(p);
    }
    return out;
  }

  function grantProblem(g: string): string | null {
    const p = parseGrant(g);
    if ('error' in p) return `grant ${JSON.stringify(g)} is invalid: ${p.error}`;
    // Granting the marker would make an own account look Stint-managed, and reconcile would remove it.
    if (p.type === 'role' && p.role === marker) return `the marker role ${JSON.stringify(marker)} cannot be granted`;
    return null;
  }

  function requireManaged(operation: string, text: string, state: AccountState): void {
    if (!state.marked) {
      throw fail(operation, text, `the account exists but is not managed by Stint (not granted marker role ${JSON.stringify(marker)}); it was left unchanged`);
    }
  }

  async function requireEventScheduler(operation: string, text: string | undefined, c: PoolConnection): Promise<void> {
    if (!useEvents) return;
    const [rows] = await c.query<RowDataPacket[]>('SELECT @@global.event_scheduler AS s');
    if (String(rows[0]?.s).toUpperCase() !== 'ON') {
      throw fail(
        operation,
        text,
        'nativeExpiry is "event" but the server has event_scheduler OFF, so expiry would not be enforced by the target; SET GLOBAL event_scheduler = ON (and event_scheduler=ON in my.cnf) or set nativeExpiry: none',
      );
    }
  }

  async function requireRoles(operation: string, text: string, c: PoolConnection, grants: Grant[]): Promise<void> {
    const roles = grants.flatMap((g) => (g.type === 'role' ? [g.role] : []));
    const present = await existingRoles(c, roles);
    const missing = roles.filter((r) => !present.has(r));
    if (missing.length > 0) throw fail(operation, text, `role(s) ${missing.map((r) => JSON.stringify(r)).join(', ')} do not exist on the target`);
  }

  const grantSql = (g: Grant, a: Account) =>
    g.type === 'role' ? `GRANT ${quoteId(g.role)} TO ${quoteAccount(a)}` : `GRANT ${g.privilege} ON ${grantObject(g)} TO ${quoteAccount(a)}`;
  const revokeSql = (g: Grant, a: Account) =>
    g.type === 'role' ? `REVOKE ${quoteId(g.role)} FROM ${quoteAccount(a)}` : `REVOKE ${g.privilege} ON ${grantObject(g)} FROM ${quoteAccount(a)}`;

  /**
   * MariaDB lets an account set only its OWN default role without write
   * access to the mysql database, so the connector logs in as the new
   * account once to do it. One default role per account is a MariaDB limit:
   * the profile's first role; others are available with SET ROLE.
   */
  async function setOwnDefaultRole(a: Account, secret: string, role: string): Promise<void> {
    const c = await mysql.createConnection({
      host: settings.host,
      port: settings.port,
      user: a.user,
      password: secret,
      ...(ssl ? { ssl } : {}),
      connectTimeout: settings.connectTimeoutMs,
      charset: 'utf8mb4_unicode_ci',
    });
    try {
      await c.query(role === '' ? 'SET DEFAULT ROLE NONE' : `SET DEFAULT ROLE ${quoteId(role)}`);
    } finally {
      await c.end().catch(() => c.destroy());
    }
  }

  /** Expiry event, default role and lock state: the tail of create for new and existing accounts. */
  async function finishAccount(c: PoolConnection, a: Account, secret: string, grants: Grant[], expiresAt: Date, currentDefault: string) {
    if (useEvents) await c.query(createExpiryEventSql(settings.eventSchema, a, marker, expiresAt));
    const wantDefault = grants.find((g) => g.type === 'role')?.role ?? '';
    const expired = expiresAt.getTime() <= Date.now();
    if (wantDefault !== currentDefault) {
      await c.query(`ALTER USER ${quoteAccount(a)} ACCOUNT UNLOCK`);
      await setOwnDefaultRole(a, secret, wantDefault);
    }
    if (expired && useEvents) {
      await c.query(`ALTER USER ${quoteAccount(a)} ACCOUNT LOCK`);
      await killSessions(c, a.user);
    } else {
      await c.query(`ALTER USER ${quoteAccount(a)} ACCOUNT UNLOCK`);
    }
  }

  return {
    classify: toTargetError,
    checkAccount: (text) => checkAccountText(text, settings.accountHost),
    checkGrant: grantProblem,

    async createAccount(req: CreateAccountRequest, o: Operation): Promise<void> {
      const op = 'createAccount';
      const a = account(req.account);
      const grants = grantsOfRequest(o, req.grants);
      await ensureMarker();
      const hash = nativePasswordHash(req.secret);
      o.secret(hash);
      const who = quoteAccount(a);
      await withAccountLock(op, req.account, a, async (c) => {
        await requireEventScheduler(op, req.account, c);
        // Checked before anything is created: a missing role must not leave half an account.
        await requireRoles(op, req.account, c, grants);
        const state = await accountState(c, a, marker);
        if (!state) {
          // Locked until fully built; the marker comes first so a crash
          // after this point leaves an account reconcile can remove.
          await c.query(`CREATE USER ${who} IDENTIFIED BY PASSWORD '${hash}' ACCOUNT LOCK`);
          try {
            await c.query(`GRANT ${quoteId(marker)} TO ${who}`);
            for (const g of grants) await c.query(grantSql(g, a));
            await finishAccount(c, a, req.secret, grants, req.expiresAt, '');
          } catch (err) {
            // DDL is not transactional: undo by hand so a failure leaves nothing behind.
            await c.query(`DROP USER IF EXISTS ${who}`).catch(() => {});
            if (useEvents) await c.query(dropExpiryEventSql(settings.eventSchema, a)).catch(() => {});
            throw err;
          }
          return;
        }
        requireManaged(op, req.account, state);
        // Idempotent retry: bring the existing account to exactly the requested state.
        await c.query(`ALTER USER ${who} IDENTIFIED BY PASSWORD '${hash}'`);
        const want = new Set(grants.map(formatGrant));
        for (const text of await grantsOf(c, a, marker)) {
          const g = parseGrant(text);
          if (!('error' in g) && !want.has(text)) await c.query(revokeSql(g, a));
        }
        for (const g of grants) await c.query(grantSql(g, a));
        await finishAccount(c, a, req.secret, grants, req.expiresAt, state.defaultRole);
      });
    },

    async extendAccount(req: ExtendAccountRequest): Promise<void> {
      const op = 'extendAccount';
      const a = account(req.account);
      await withAccountLock(op, req.account, a, async (c) => {
        const state = await accountState(c, a, marker);
        if (!state) throw fail(op, req.account, 'the account does not exist');
        requireManaged(op, req.account, state);
        if (!useEvents) return; // the broker is the only clock
        await requireEventScheduler(op, req.account, c);
        await c.query(createExpiryEventSql(settings.eventSchema, a, marker, req.expiresAt));
        if (req.expiresAt.getTime() > Date.now()) {
          await c.query(`ALTER USER ${quoteAccount(a)} ACCOUNT UNLOCK`);
        } else {
          await c.query(`ALTER USER ${quoteAccount(a)} ACCOUNT LOCK`);
          await killSessions(c, a.user);
        }
      });
    },

    async removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse> {
      const op = 'removeAccount';
      const a = account(req.account);
      const who = quoteAccount(a);
      return withAccountLock(op, req.account, a, async (c) => {
        const state = await accountState(c, a, marker);
        if (!state) {
          // A leftover event (the account was dropped by hand) is ours to clean up; its name is derived from the account.
          if (useEvents) await c.query(dropExpiryEventSql(settings.eventSchema, a));
          return { existed: false, terminatedSessions: 0 };
        }
        requireManaged(op, req.account, state);
        // First, so no new session can start while the others are killed.
        await c.query(`ALTER USER ${who} ACCOUNT LOCK`);
        const terminatedSessions = await killSessions(c, a.user);
        await c.query(`DROP USER IF EXISTS ${who}`);
        if (useEvents) await c.query(dropExpiryEventSql(settings.eventSchema, a));
        return { existed: true, terminatedSessions };
      });
    },

    async grantToAccount(req: GrantToAccountRequest, o: Operation): Promise<void> {
      const op = 'grantToAccount';
      const a = account(req.account);
      const grants = grantsOfRequest(o, req.grants);
      await withAccountLock(op, req.account, a, async (c) => {
        if (!(await accountState(c, a, marker))) throw fail(op, req.account, 'the account does not exist on the target');
        await requireRoles(op, req.account, c, grants);
        // GRANT of something already held is a no-op in MariaDB.
        for (const g of grants) await c.query(grantSql(g, a));
      });
    },

    async revokeFromAccount(req: RevokeFromAccountRequest, o: Operation): Promise<RevokeFromAccountResponse> {
      const op = 'revokeFromAccount';
      const a = account(req.account);
      const grants = grantsOfRequest(o, req.grants);
      return withAccountLock(op, req.account, a, async (c) => {
        // Nothing to take away from an account that is gone.
        if (!(await accountState(c, a, marker))) return { terminatedSessions: 0 };
        // Only what is held: REVOKE of a missing grant is an error in MariaDB, and absence is the goal.
        const held = new Set(await grantsOf(c, a, marker));
        for (const g of grants) if (held.has(formatGrant(g))) await c.query(revokeSql(g, a));
        const terminatedSessions = req.terminateSessions ? await killSessions(c, a.user) : 0;
        return { terminatedSessions };
      });
    },

    async listManaged(): Promise<ListManagedResponse> {
      return withConn(async (c) => {
        self ??= await currentAccount(c);
        const marked = await listMarked(c, marker, self);
        const events = useEvents ? await expiryEvents(c, settings.eventSchema) : new Map<string, string>();
        return {
          accounts: marked.map((m) => {
            const at = events.get(eventName(m));
            return { account: formatAccount(m, settings.accountHost), grants: m.grants, expiresAt: at ? parseUtcDateTime(at) : null };
          }),
        };
      });
    },

    async listHolders(req: ListHoldersRequest): Promise<ListHoldersResponse> {
      return withConn(async (c) => {
        self ??= await currentAccount(c);
        return { holders: await listHolders(c, req.grants, marker, self, settings.accountHost) };
      });
    },

    async describeAccount(req: { account: string }): Promise<AccountInfo> {
      const a = account(req.account);
      return withConn(async (c) => {
        const state = await accountState(c, a, marker);
        return { account: req.account, exists: state !== null, grants: state ? await grantsOf(c, a, marker) : [] };
      });
    },

    async checkHealth(): Promise<void> {
      await withConn(async (c) => {
        await c.query('SELECT 1');
        await requireEventScheduler('checkHealth', undefined, c);
      });
    },

    connectionInfo() {
      return { host: settings.host, port: settings.port };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
