// Test fixture: a fresh database on the test server with a least-privileged
// Stint admin (CREATEROLE, pg_signal_backend, ADMIN OPTION on the profile
// roles, never superuser; also ADMIN OPTION on the unmanaged and own accounts,
// see createUnmanaged), profile roles, tables to prove access with, and an
// own account. Role names are cluster-wide, so every one carries a random
// suffix and test files can share one server.

import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { randomId } from '../../../core/ids.js';
import { createTestDatabase, type TestDatabase } from '../../../testing/postgres.js';
import type { Connector } from '../../contract.js';
import type { ContractHarness, ContractLogin, ContractSession } from '../../testing/contract-suite.js';
import { createPostgresConnector } from '../module.js';

export interface PgTestEnv {
  db: TestDatabase;
  suffix: string;
  admin: { user: string; secret: string };
  /** Profile roles: `read` may SELECT public.items; `write` may do anything to both tables; `creator` may CREATE in public. */
  roles: { read: string; write: string; creator: string };
  own: { user: string; secret: string };
  marker: string;
  /** Superuser connection to the test database. */
  su: pg.Client;
  newConnector(overrides?: { markerRole?: string; port?: number; adminUser?: string; adminSecret?: string; maxConnections?: number }): Connector;
  /** Logs in (throws when refused); errors after a server-side kill are swallowed. */
  connect(user: string, secret: string, database?: string): Promise<pg.Client>;
  /** Creates a login role as the superuser and drops it in teardown. */
  createUnmanaged(name: string, secret?: string): Promise<void>;
  teardown(): Promise<void>;
}

const id = (s: string) => pg.escapeIdentifier(s);
const lit = (s: string) => pg.escapeLiteral(s);
export const testSecret = () => `T${randomBytes(18).toString('base64url')}`;

export async function createPgTestEnv(): Promise<PgTestEnv> {
  const db = await createTestDatabase('conn');
  const suffix = randomId(8);
  const su = new pg.Client({ connectionString: db.url });
  su.on('error', () => {}); // a lost connection fails the next query, in the test that makes it
  await su.connect();
  const admin = { user: `stint_admin_${suffix}`, secret: testSecret() };
  const roles = { read: `app_read_${suffix}`, write: `app_admin_${suffix}`, creator: `app_creator_${suffix}` };
  const own = { user: `own_${suffix}`, secret: testSecret() };
  const marker = `stint_managed_${suffix}`;
  const unmanaged: string[] = [];
  const connectors: Connector[] = [];
  const clients = new Set<pg.Client>();

  await su.query(`
    CREATE ROLE ${id(admin.user)} LOGIN CREATEROLE PASSWORD ${lit(admin.secret)};
    GRANT pg_signal_backend TO ${id(admin.user)};
    CREATE ROLE ${id(roles.read)} NOLOGIN;
    CREATE ROLE ${id(roles.write)} NOLOGIN;
    CREATE ROLE ${id(roles.creator)} NOLOGIN;
    GRANT ${id(roles.read)}, ${id(roles.write)}, ${id(roles.creator)} TO ${id(admin.user)} WITH ADMIN OPTION;
    CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO public.items VALUES (1, 'one'), (2, 'two');
    CREATE TABLE public.secrets (id int PRIMARY KEY, value text NOT NULL);
    INSERT INTO public.secrets VALUES (1, 'hidden');
    GRANT SELECT ON public.items TO ${id(roles.read)};
    GRANT ALL ON public.items, public.secrets TO ${id(roles.write)};
    GRANT CREATE ON SCHEMA public TO ${id(roles.creator)};
    CREATE ROLE ${id(own.user)} LOGIN PASSWORD ${lit(own.secret)};
    GRANT ${id(own.user)} TO ${id(admin.user)} WITH ADMIN OPTION;
  `);
  const check = await su.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [admin.user]);
  if (check.rows[0]?.rolsuper !== false) throw new Error('test admin must not be a superuser');

  const env: PgTestEnv = {
    db,
    suffix,
    admin,
    roles,
    own,
    marker,
    su,
    newConnector(o = {}) {
      const c = createPostgresConnector({
        target: `pg-test-${suffix}`,
        settings: {
          host: db.host,
          port: o.port ?? db.port,
          database: db.name,
          markerRole: o.markerRole ?? marker,
          connectTimeoutMs: 3000,
          ...(o.maxConnections ? { maxConnections: o.maxConnections } : {}),
        },
        adminUser: o.adminUser ?? admin.user,
        adminSecret: o.adminSecret ?? admin.secret,
      });
      connectors.push(c);
      return c;
    },
    async connect(user, secret, database = db.name) {
      const c = new pg.Client({ host: db.host, port: db.port, database, user, password: secret, connectionTimeoutMillis: 5000 });
      // A backend killed by the connector emits 'error' on the idle client;
      // the test observes that through a failing query instead.
      c.on('error', () => {});
      await c.connect();
      clients.add(c);
      return c;
    },
    async createUnmanaged(name, secret = testSecret()) {
      await su.query(`CREATE ROLE ${id(name)} LOGIN PASSWORD ${lit(secret)}`);
      // Worst case for the marker check: the admin may alter and drop this role
      // (as any CREATEROLE role may before PostgreSQL 16), so only the
      // connector's own marker check keeps it safe, not a permission error.
      await su.query(`GRANT ${id(name)} TO ${id(admin.user)} WITH ADMIN OPTION`);
      unmanaged.push(name);
    },
    async teardown() {
      for (const c of clients) await c.end().catch(() => {});
      for (const c of connectors) await c.close().catch(() => {});
      const leftovers = await su.query<{ rolname: string }>(
        `SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles k ON k.oid = m.roleid
          WHERE k.rolname LIKE $1 AND NOT m.admin_option`,
        [`%${suffix}%`],
      );
      await su.end();
      await db.drop();
      // Roles outlive the database; drop them from the maintenance database.
      const base = new URL(db.url);
      base.pathname = '/postgres';
      const c = new pg.Client({ connectionString: base.toString() });
      await c.connect();
      try {
        const markers = (await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [`stint_managed_${suffix}%`])).rows;
        const names = [
          ...leftovers.rows.map((r) => r.rolname),
          ...unmanaged,
          own.user,
          ...markers.map((r) => r.rolname),
          roles.read,
          roles.write,
          roles.creator,
          admin.user,
        ];
        for (const n of new Set(names)) await c.query(`DROP ROLE IF EXISTS ${id(n)}`).catch(() => {});
      } finally {
        await c.end();
      }
    },
  };
  return env;
}

function pgLogin(c: pg.Client): ContractLogin {
  return {
    tryAllowed: async () => {
      await c.query('SELECT count(*) FROM public.items');
    },
    tryForbidden: async () => {
      await c.query('SELECT count(*) FROM public.secrets');
    },
    close: () => c.end().catch(() => {}),
  };
}

function pgSession(c: pg.Client): ContractSession {
  return {
    isAlive: () =>
      c.query('SELECT 1').then(
        () => true,
        () => false,
      ),
    close: () => c.end().catch(() => {}),
  };
}

export function postgresHarness(env: PgTestEnv): ContractHarness {
  const connector = env.newConnector();
  return {
    connector,
    grants: { allowed: [env.roles.read], nonexistent: [`no_such_role_${env.suffix}`] },
    login: async (account, secret) => pgLogin(await env.connect(account, secret)),
    ownAccount: env.own.user,
    ownLogin: async () => pgLogin(await env.connect(env.own.user, env.own.secret)),
    openSession: async (account, secret) => pgSession(await env.connect(account, secret)),
    openOwnSession: async () => pgSession(await env.connect(env.own.user, env.own.secret)),
    createUnmanaged: (name) => env.createUnmanaged(name),
    supportsNativeExpiry: true,
    // VALID UNTIL keeps microseconds, so expiry round-trips to the millisecond.
    expiryPrecisionMs: 0,
    accountName: (() => {
      let n = 0;
      return () => `stint_${env.suffix}_${++n}`;
    })(),
    teardown: () => env.teardown(),
  };
}
