// Removing an ephemeral account from PostgreSQL: the one-statement way when
// nothing stands in its way, the careful way otherwise, and a late look for
// sessions that got in while the role was being dropped (orphan-sweep.ts).

import type pg from 'pg';
import type { TargetError } from '../../core/errors.js';
import { safeErrorText } from '../../core/scrub.js';
import type { RemoveAccountResponse } from '../contract.js';
import {
  quickRemovalStateOf,
  quickRemovalStateSql,
  removalStateOf,
  removalStateSql,
  terminateOrphanSessions,
  terminateSessionsOfOidSql,
  terminateSessionsSql,
  type RoleState,
} from './catalog.js';
import { createOrphanSweep } from './orphan-sweep.js';
import { ident, literal, lockSql, unlockSql } from './sql.js';

/**
 * The admin takes the privileges of an account it manages, at removal and
 * only when it needs them: on PostgreSQL 16+ a CREATEROLE admin otherwise
 * holds only ADMIN OPTION, which is not enough to signal the account's
 * backends, to REASSIGN/DROP OWNED it, or to revoke privileges another managed
 * account granted it. It gains nothing it could not grant itself already, and
 * the membership goes with DROP ROLE. Not at creation: an admin that inherits
 * every live account makes each of PostgreSQL's checks of its rights walk all
 * of them (DROP ROLE ran 3x slower with 3000 accounts). WITH INHERIT TRUE: on
 * 16+ a membership's INHERIT otherwise follows the admin's own rolinherit, and
 * a NOINHERIT admin would gain nothing from it.
 */
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

export interface RemovalDeps {
  marker: string;
  /** The connector's connections whose session state is unknown: destroyed on release. */
  poisoned: WeakSet<pg.PoolClient>;
  withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  fail(operation: string, account: string, reason: string): TargetError;
  /** Throws unless the role carries the marker. */
  requireManaged(operation: string, account: string, state: RoleState): void;
  warn(message: string): void;
  /** Scrubbed from any error text this reports. */
  secrets: string[];
}

export interface Removal {
  /** Removes the account on `c` (no transaction open); the connector's removeAccount. */
  remove(c: pg.PoolClient, account: string, serverVersion: number): Promise<RemoveAccountResponse>;
  /** One last look for late sessions, then stops; before the pool ends. */
  close(): Promise<void>;
}

export function createRemoval(deps: RemovalDeps): Removal {
  const { marker, poisoned, withClient, fail, requireManaged } = deps;

  // Sessions of dropped roles that got in while they were being removed (orphan-sweep.ts).
  const orphans = createOrphanSweep({
    look: (oids) => withClient((c) => terminateOrphanSessions(c, oids)),
    warn: deps.warn,
    describeError: (err) => safeErrorText(err, deps.secrets),
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
        [
          `SET LOCAL lock_timeout = ${literal(QUICK_DROP_LOCK_TIMEOUT)}`,
          `DROP ROLE IF EXISTS ${ident(account)}`,
          terminateSessionsOfOidSql(oid, version),
          'COMMIT',
        ].join(';\n'),
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
      throw fail(
        'removeAccount',
        account,
        `the role was dropped, but ending a session that logged in during the removal failed (${safeErrorText(err, deps.secrets)}); look for backends of role OID ${oid} and end them with pg_terminate_backend`,
      );
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
   *   2BP01; the error then says so (errors.ts), and the role stays NOLOGIN;
   * - DROP ROLE, and the lock is released.
   * If a session or a dependent appeared after the read (42501 ending a session
   * without the role's privileges, 2BP01), it runs once more with every step.
   */
  async function removeCarefully(c: pg.PoolClient, account: string, version: number, force = false): Promise<RemoveAccountResponse> {
    const who = ident(account);
    const name = literal(account);
    let locked = true;
    try {
      const first = (await c.query(
        `${lockSql('pg_advisory_lock', account)};\n${removalStateSql(name, literal(marker), version)}`,
      )) as unknown as pg.QueryResult[];
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
        'BEGIN',
        `ALTER ROLE ${who} NOLOGIN`,
        'COMMIT',
        ...(rights.length ? ['BEGIN', ...rights, 'COMMIT'] : []),
        terminate,
        'BEGIN',
        ...cleanup,
        `DROP ROLE IF EXISTS ${who}`,
        'COMMIT',
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
    async remove(c, account, version) {
      const quick = await removeInOneStatement(c, account, version);
      return quick === 'careful' ? removeCarefully(c, account, version) : quick;
    },
    close: () => orphans.close(),
  };
}
