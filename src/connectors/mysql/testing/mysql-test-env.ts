// Test fixture: a fresh database on the MariaDB test server with a
// least-privileged Stint admin (exactly the README's grants, never SUPER or
// ALL), profile roles, tables to prove access with, an events schema and an
// own account. Account and role names are server-wide, so every one carries a
// random suffix and test files can share one server.

import mysql from 'mysql2/promise';
import type { Connection } from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { randomId } from '../../../core/ids.js';
import { testMysqlUrl } from '../../../testing/servers/mysql.js';
import type { Connector } from '../../contract.js';
import { defaultHostileNames, type ContractHarness, type ContractLogin, type ContractSession } from '../../testing/contract-suite.js';
import { escapeDbPattern, parseAccount, quoteAccount, quoteId } from '../grammar.js';
import { createMysqlConnector } from '../module.js';

export const testSecret = () => `T${randomBytes(18).toString('base64url')}`;

export interface MysqlTestEnv {
  url: string;
  host: string;
  port: number;
  suffix: string;
  /** Database with `items` (readable by the read role / grant) and `secrets` (never granted). */
  db: string;
  admin: { user: string; host: string; secret: string };
  roles: { read: string; write: string };
  own: { user: string; host: string; secret: string; account: string };
  marker: string;
  eventSchema: string;
  /** Superuser connection. */
  su: Connection;
  newConnector(overrides?: { port?: number; adminSecret?: string; markerRole?: string; nativeExpiry?: 'event' | 'none'; accountHost?: string }): Connector;
  /** Logs in (throws when refused). Errors of a connection killed server-side are swallowed. */
  connect(user: string, secret: string): Promise<Connection>;
  /** Creates a login account as the superuser (no marker) and drops it in teardown. */
  createUnmanaged(account: string, secret?: string): Promise<void>;
  teardown(): Promise<void>;
}

/** The admin grants README.md documents, for `admin` on this env's database, roles and event schema. */
export function adminGrantStatements(admin: string, o: { db: string; roles: string[]; eventSchema: string }): string[] {
  return [
    `GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO ${admin}`,
    `GRANT SELECT (Host, User, is_role, default_role) ON mysql.user TO ${admin}`,
    `GRANT SELECT ON mysql.roles_mapping TO ${admin}`,
    `GRANT SELECT ON mysql.db TO ${admin}`,
    `GRANT SELECT ON mysql.tables_priv TO ${admin}`,
    `GRANT EVENT ON ${quoteId(escapeDbPattern(o.eventSchema))}.* TO ${admin}`,
    `GRANT SELECT, INSERT ON ${quoteId(escapeDbPattern(o.db))}.* TO ${admin} WITH GRANT OPTION`,
    ...o.roles.map((r) => `GRANT ${quoteId(r)} TO ${admin} WITH ADMIN OPTION`),
  ];
}

export async function createMysqlTestEnv(): Promise<MysqlTestEnv> {
  const url = await testMysqlUrl();
  const u = new URL(url);
  const host = u.hostname;
  const port = Number(u.port);
  const su = await mysql.createConnection({ uri: url, charset: 'utf8mb4_unicode_ci' });
  const suffix = randomId(8);
  const db = `app_${suffix}`;
  const eventSchema = `stint_ev_${suffix}`;
  const admin = { user: `stint_admin_${suffix}`, host: '127.0.0.1', secret: testSecret() };
  const roles = { read: `app_read_${suffix}`, write: `app_write_${suffix}` };
  const own = { user: `own_${suffix}`, host: '%', secret: testSecret(), account: '' };
  own.account = `${own.user}@${own.host}`;
  const marker = `stint_managed_${suffix}`;
  const unmanaged: string[] = [];
  const connectors: Connector[] = [];
  const clients = new Set<Connection>();
  const adminId = quoteAccount(admin);

  for (const sql of [
    `CREATE DATABASE ${quoteId(db)}`,
    `CREATE DATABASE ${quoteId(eventSchema)}`,
    `CREATE TABLE ${quoteId(db)}.items (id int PRIMARY KEY, name text NOT NULL)`,
    `INSERT INTO ${quoteId(db)}.items VALUES (1, 'one'), (2, 'two')`,
    `CREATE TABLE ${quoteId(db)}.secrets (id int PRIMARY KEY, value text NOT NULL)`,
    `INSERT INTO ${quoteId(db)}.secrets VALUES (1, 'hidden')`,
    `CREATE ROLE ${quoteId(roles.read)}`,
    `CREATE ROLE ${quoteId(roles.write)}`,
    `GRANT SELECT ON ${quoteId(db)}.items TO ${quoteId(roles.read)}`,
    `GRANT SELECT, INSERT ON ${quoteId(db)}.items TO ${quoteId(roles.write)}`,
    `CREATE USER ${adminId} IDENTIFIED BY ${mysql.escape(admin.secret)}`,
    ...adminGrantStatements(adminId, { db, roles: [roles.read, roles.write], eventSchema }),
    `CREATE USER ${quoteAccount(own)} IDENTIFIED BY ${mysql.escape(own.secret)}`,
  ]) {
    await su.query(sql);
  }

  const env: MysqlTestEnv = {
    url,
    host,
    port,
    suffix,
    db,
    admin,
    roles,
    own,
    marker,
    eventSchema,
    su,
    newConnector(o = {}) {
      const c = createMysqlConnector({
        target: `mysql-test-${suffix}`,
        settings: {
          host,
          port: o.port ?? port,
          markerRole: o.markerRole ?? marker,
          eventSchema,
          nativeExpiry: o.nativeExpiry ?? 'event',
          connectTimeoutMs: 3000,
          ...(o.accountHost ? { accountHost: o.accountHost } : {}),
        },
        adminUser: admin.user,
        adminSecret: o.adminSecret ?? admin.secret,
      });
      connectors.push(c);
      return c;
    },
    async connect(user, secret) {
      const c = await mysql.createConnection({ host, port, user, password: secret, connectTimeout: 5000, charset: 'utf8mb4_unicode_ci' });
      // A connection killed by the connector emits 'error'; tests observe it through a failing query.
      c.on('error', () => {});
      clients.add(c);
      return c;
    },
    async createUnmanaged(account, secret = testSecret()) {
      const a = parseAccount(account, '%');
      await su.query(`CREATE USER ${quoteAccount(a)} IDENTIFIED BY ${mysql.escape(secret)}`);
      unmanaged.push(quoteAccount(a));
    },
    async teardown() {
      for (const c of clients) await c.end().catch(() => c.destroy());
      for (const c of connectors) await c.close().catch(() => {});
      // Whatever a failed test left: accounts holding this env's marker, and everything named with the suffix.
      const [left] = await su.query<mysql.RowDataPacket[]>(
        `SELECT User, Host FROM mysql.roles_mapping WHERE Role = ? UNION SELECT User, Host FROM mysql.user WHERE User LIKE ?`,
        [marker, `%${suffix}%`],
      );
      const drops = new Set([
        ...left.map((r) => (r.Host === '' ? quoteId(String(r.User)) : quoteAccount({ user: String(r.User), host: String(r.Host) }))),
        ...unmanaged,
      ]);
      for (const who of drops) {
        await su.query(`DROP USER IF EXISTS ${who}`).catch(() => su.query(`DROP ROLE IF EXISTS ${who}`).catch(() => {}));
      }
      for (const r of [roles.read, roles.write, marker]) await su.query(`DROP ROLE IF EXISTS ${quoteId(r)}`).catch(() => {});
      await su.query(`DROP DATABASE IF EXISTS ${quoteId(db)}`);
      await su.query(`DROP DATABASE IF EXISTS ${quoteId(eventSchema)}`);
      await su.end();
    },
  };
  return env;
}

function login(c: Connection, db: string): ContractLogin {
  return {
    tryAllowed: async () => {
      await c.query(`SELECT count(*) FROM ${quoteId(db)}.items`);
    },
    tryForbidden: async () => {
      await c.query(`SELECT count(*) FROM ${quoteId(db)}.secrets`);
    },
    close: () => c.end().catch(() => c.destroy()),
  };
}

export function sessionOf(c: Connection): ContractSession {
  return {
    isAlive: () =>
      c.query('SELECT 1').then(
        () => true,
        () => false,
      ),
    close: () => c.end().catch(() => c.destroy()),
  };
}

/** Names with backticks, quotes, semicolons and backslashes on top of the suite's defaults (no `@`: that would name a host). */
export function mysqlHostileNames(suffix: string): string[] {
  return [...defaultHostileNames(suffix), `b\`tick\`\`; DROP USER \`root\`; -- ${suffix}`, `'); DROP DATABASE mysql; -- ${suffix}`];
}

export function mysqlHarness(env: MysqlTestEnv): ContractHarness {
  const connector = env.newConnector();
  const userOf = (account: string) => parseAccount(account, '%').user;
  return {
    connector,
    // A privilege grant: works on own accounts at once (roles there need SET ROLE, see README).
    grants: { allowed: [`SELECT ON ${env.db}.items`], nonexistent: [`no_such_role_${env.suffix}`] },
    login: async (account, secret) => login(await env.connect(userOf(account), secret), env.db),
    ownAccount: env.own.account,
    ownLogin: async () => login(await env.connect(env.own.user, env.own.secret), env.db),
    openSession: async (account, secret) => sessionOf(await env.connect(userOf(account), secret)),
    openOwnSession: async () => sessionOf(await env.connect(env.own.user, env.own.secret)),
    createUnmanaged: (name) => env.createUnmanaged(name),
    supportsNativeExpiry: true,
    // The event's AT clause has whole seconds, rounded down.
    expiryPrecisionMs: 1000,
    accountName: (() => {
      let n = 0;
      return () => `stint_${env.suffix}_${++n}`;
    })(),
    hostileNames: () => mysqlHostileNames(env.suffix),
    teardown: () => env.teardown(),
  };
}
