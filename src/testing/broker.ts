// Test harness: a real PostgreSQL target (own database, own uniquely named
// roles, so test files run in parallel on one server) and a real broker
// (createApp) over it, driven through its HTTP API with Fastify's inject.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { createApp, type App, type AppOptions } from '../app.js';
import { randomId } from '../core/ids.js';
import type { Clock } from '../core/ports.js';
import { createLogger } from '../log.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export interface TestTarget {
  db: TestDatabase;
  host: string;
  port: number;
  suffix: string;
  readRole: string;
  adminRole: string;
  marker: string;
  /** Marker of the accounts a session gateway makes for itself (per target: roles are cluster-wide, and on PostgreSQL 16+ only its creator may grant it). */
  gatewayMarker: string;
  adminUser: string;
  adminPassword: string;
  own: { name: string; password: string };
  roleExists(name: string): Promise<boolean>;
  memberOf(account: string): Promise<string[]>;
  login(user: string, password: string, sql: string): Promise<{ ok: true; rows: unknown[] } | { ok: false; error: string }>;
  superQuery(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  drop(): Promise<void>;
}

/** A database with a readable and a secret table, profile roles, a CREATEROLE-only admin and an own account. */
export async function createTestTarget(opts: { canary?: string; serverUrl?: string } = {}): Promise<TestTarget> {
  const db = await createTestDatabase('tgt', opts.serverUrl);
  const suffix = randomId(6);
  const readRole = `app_read_${suffix}`;
  const adminRole = `app_admin_${suffix}`;
  const marker = `stint_managed_${suffix}`;
  const gatewayMarker = `stint_gateway_${suffix}`;
  const adminUser = `stint_admin_${suffix}`;
  const adminPassword = opts.canary ?? `adm-${randomId(24)}`;
  const own = { name: `alice_${suffix}`, password: `own-${randomId(24)}` };
  const id = pg.escapeIdentifier;
  const lit = pg.escapeLiteral;
  const superQuery = async (sql: string, params?: unknown[]) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return await c.query(sql, params);
    } finally {
      await c.end();
    }
  };
  await superQuery(`
    CREATE ROLE ${id(readRole)} NOLOGIN;
    CREATE ROLE ${id(adminRole)} NOLOGIN;
    CREATE TABLE public.items (id serial PRIMARY KEY, name text NOT NULL);
    INSERT INTO public.items (name) VALUES ('widget'), ('gadget');
    CREATE TABLE public.secrets (v text);
    INSERT INTO public.secrets VALUES ('s');
    REVOKE ALL ON SCHEMA public FROM PUBLIC;
    GRANT USAGE ON SCHEMA public TO ${id(readRole)}, ${id(adminRole)};
    GRANT SELECT ON public.items TO ${id(readRole)};
    GRANT ALL ON ALL TABLES IN SCHEMA public TO ${id(adminRole)};
    CREATE ROLE ${id(adminUser)} LOGIN CREATEROLE PASSWORD ${lit(adminPassword)};
    GRANT ${id(readRole)}, ${id(adminRole)} TO ${id(adminUser)} WITH ADMIN OPTION;
    GRANT pg_signal_backend TO ${id(adminUser)};
    CREATE ROLE ${id(own.name)} LOGIN PASSWORD ${lit(own.password)};
    GRANT USAGE ON SCHEMA public TO ${id(own.name)};
  `);
  const login: TestTarget['login'] = async (user, password, sql) => {
    const c = new pg.Client({ host: db.host, port: db.port, database: db.name, user, password, connectionTimeoutMillis: 60_000 });
    try {
      await c.connect();
      const r = await c.query(sql);
      return { ok: true, rows: r.rows };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    } finally {
      await c.end().catch(() => {});
    }
  };
  return {
    db,
    host: db.host,
    port: db.port,
    suffix,
    readRole,
    adminRole,
    marker,
    gatewayMarker,
    adminUser,
    adminPassword,
    own,
    login,
    superQuery,
    async roleExists(name) {
      return (await superQuery('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;
    },
    async memberOf(account) {
      const r = await superQuery(
        'SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1',
        [account],
      );
      return r.rows.map((x) => x.rolname as string);
    },
    async drop() {
      // Roles are cluster-wide: remove the ephemeral accounts left behind (members
      // of this target's marker), then the roles this target created.
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const r = await c.query(
          'SELECT u.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = $1',
          [marker],
        );
        for (const n of [...r.rows.map((x) => x.rolname as string), own.name, adminUser, marker, gatewayMarker, readRole, adminRole]) {
          await c.query(`DROP OWNED BY ${id(n)}`).catch(() => {});
          await c.query(`DROP ROLE IF EXISTS ${id(n)}`).catch(() => {});
        }
      } finally {
        await c.end();
      }
      await db.drop().catch(() => {});
    },
  };
}

export interface ConfigOptions {
  readMax?: string;
  dbaMax?: string;
  dbaApprovals?: number;
  pendingTimeout?: string;
  extraPolicies?: string;
  port?: number;
  webhookUrl?: string;
}

/** alice (dev, own account on pg), bob and carol (dba), dave (dev), eve (contractors, denied), root (admin, dba). */
export function testConfigYaml(t: TestTarget, passwordFile: string, o: ConfigOptions = {}): string {
  return `
broker:
  pendingTimeout: ${o.pendingTimeout ?? '1h'}
  revokeRetry: { initial: 1s, max: 5s }
${o.webhookUrl ? `  webhooks: [{ url: ${JSON.stringify(o.webhookUrl)}, events: [grant.revoke-failing, grant.revoked] }]\n` : ''}targets:
  - name: pg
    kind: postgres
    host: ${t.host}
    port: ${o.port ?? t.port}
    database: ${t.db.name}
    markerRole: ${t.marker}
    gatewayMarkerRole: ${t.gatewayMarker}
    admin: { user: ${t.adminUser}, passwordFile: ${JSON.stringify(passwordFile)} }
    critical: false
profiles:
  - { name: pg-read, target: pg, mode: ephemeral-account, grants: [${t.readRole}], maxDuration: ${o.readMax ?? '1h'} }
  - { name: pg-dba, target: pg, mode: own-account, grants: [${t.adminRole}], maxDuration: ${o.dbaMax ?? '30m'}, terminateSessionsOnRevoke: true }
  - { name: pg-dba-auto, target: pg, mode: own-account, grants: [${t.adminRole}], maxDuration: 30m }
  - { name: pg-dba-2, target: pg, mode: own-account, grants: [${t.adminRole}], maxDuration: 30m }
policies:
  - { name: devs-read, subjects: { groups: [dev, dba] }, profiles: [pg-read], approval: auto }
  - name: dba-elevation
    subjects: { groups: [dev, dba] }
    profiles: [pg-dba]
    requireReason: true
    approval: { approvers: { groups: [dba] }, count: ${o.dbaApprovals ?? 1} }
  - { name: dba-auto, subjects: { users: [alice] }, profiles: [pg-dba-auto], approval: auto }
  - name: two-dbas
    subjects: { users: [alice] }
    profiles: [pg-dba-2]
    approval: { approvers: { groups: [dba] }, count: 2 }
  - { name: no-contractors, effect: deny, subjects: { groups: [contractors] }, profiles: ["*"] }
  - { name: contractors-read, subjects: { groups: [contractors] }, profiles: [pg-read], approval: auto }
${o.extraPolicies ?? ''}
users:
  - { name: alice, groups: [dev], accounts: { pg: ${t.own.name} } }
  - { name: dave, groups: [dev] }
  - { name: bob, groups: [dba] }
  - { name: carol, groups: [dba] }
  - { name: eve, groups: [contractors] }
  - { name: root, groups: [dba], admin: true, accounts: { pg: ${t.own.name} } }
`;
}

export class FakeClock implements Clock {
  // Starts at real time: targets enforce VALID UNTIL against their own clock.
  constructor(public t = Date.now()) {}
  now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

export interface TestBroker {
  app: App;
  dataDir: string;
  configPath: string;
  adminToken: string;
  /** Every log line the broker wrote (JSON). */
  logs: string[];
  token(user: string): Promise<string>;
  call(
    token: string | null,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; raw: string }>;
  close(): Promise<void>;
}

export async function startTestBroker(opts: {
  target: TestTarget;
  config?: ConfigOptions;
  clock?: Clock;
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  adminPassword?: string;
  /** Rewrites the generated config text before the broker reads it. */
  editConfig?: (text: string) => string;
  revokeOrphans?: boolean;
  /** Further options for createApp (e.g. signInRecheckMs). */
  appOptions?: Partial<Pick<AppOptions, 'signInRecheckMs'>>;
}): Promise<TestBroker> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'stint-broker-')));
  const passwordFile = join(dataDir, 'pg-admin.secret');
  await writeFile(passwordFile, `${opts.adminPassword ?? opts.target.adminPassword}\n`, { mode: 0o600 });
  const configPath = join(dataDir, 'stint.yaml');
  const text = testConfigYaml(opts.target, passwordFile, opts.config);
  await writeFile(configPath, opts.editConfig ? opts.editConfig(text) : text);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const app = await createApp({
    configPath,
    dataDir,
    clock: opts.clock,
    logger,
    workerMaxSleepMs: 50,
    env: opts.env ?? { STINT_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
    revokeRetry: { initialMs: 50, maxMs: 200 },
    revokeOrphans: opts.revokeOrphans,
    ...opts.appOptions,
  });
  const admin = app.initialAdminToken ?? (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
  const call: TestBroker['call'] = async (token, method, url, body, headers = {}) => {
    const res = await app.api.inject({
      method,
      url,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      parsed = null;
    }
    return { status: res.statusCode, body: parsed, raw: res.body };
  };
  const tokens = new Map<string, string>();
  return {
    app,
    dataDir,
    configPath,
    adminToken: admin,
    logs,
    call,
    async token(user) {
      const cached = tokens.get(user);
      if (cached) return cached;
      const r = await call(admin, 'POST', '/v1/tokens', { user });
      if (r.status !== 201) throw new Error(`token for ${user}: ${r.raw}`);
      tokens.set(user, r.body.secret);
      return r.body.secret as string;
    },
    async close() {
      await app.close();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
