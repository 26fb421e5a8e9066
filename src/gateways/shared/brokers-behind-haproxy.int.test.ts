// Three real `stint server` processes on one PostgreSQL store, behind the
// real HAProxy (testing/servers/haproxy.ts): the SSH gateway shows one host
// key on every broker (OpenSSH with strict host key checking), the
// PostgreSQL gateway one TLS certificate; a session recorded by one broker
// (statement log, terminal recording) is shown by another through the real
// `stint sessions show`; and when a broker is killed, a client behind HAProxy
// notices nothing but the end of the gateway sessions that broker held.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import pg from 'pg';
import { runBinary } from '../../cli/testing/fake-api.js';
import { freePort } from '../../embedded/free-port.js';
import { createTestTarget, type TestTarget } from '../../testing/broker.js';
import { http, startChildBroker, type ChildBroker } from '../../testing/child-broker.js';
import { createTestDatabase, type TestDatabase } from '../../testing/postgres.js';
import { startHaproxy, type HaproxyServer } from '../../testing/servers/haproxy.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { selfSignedCert } from '../testing/tls-cert.js';
import { createSshGatewayTestEnv, type SshGatewayTestEnv } from '../testing/ssh-env.js';
import { until } from '../testing/wait.js';

interface Node {
  broker: ChildBroker;
  dataDir: string;
  pgPort: number;
  sshPort: number;
}

describe('three brokers on one PostgreSQL store behind HAProxy', () => {
  let t: SshGatewayTestEnv;
  let target: TestTarget;
  let store: TestDatabase;
  let lb: HaproxyServer;
  const nodes: Node[] = [];
  let admin: string;
  let alice: string;
  let keyFile: string;
  let knownHosts: string;
  let cert: ReturnType<typeof selfSignedCert>;

  const cli = (url: string, ...args: string[]) =>
    runBinary(args, { PATH: process.env.PATH, HOME: t.dir, NO_COLOR: '1', STINT_SERVER: url, STINT_TOKEN: alice });
  // Strict: the one host key every broker presents is the only one trusted, on every port.
  const sshStrict = (port: number, extra: string[] = []) => [
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'IdentitiesOnly=yes',
    '-i',
    keyFile,
    '-p',
    String(port),
    ...extra,
    'alice+host-shell@127.0.0.1',
  ];
  const pgClient = (port: number) =>
    new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'alice',
      database: 'pg-read',
      password: alice,
      ssl: { rejectUnauthorized: false },
      connectionTimeoutMillis: 60_000,
    });

  before(async () => {
    t = await createSshGatewayTestEnv('stint-haproxy-');
    target = await createTestTarget();
    store = await createTestDatabase('store');
    cert = selfSignedCert(t.dir);
    const secret = join(t.dir, 'pg.secret');
    writeFileSync(secret, target.adminPassword, { mode: 0o600 });
    const common = `targets:
${t.targetYaml}  - name: pg
    kind: postgres
    host: ${target.host}
    port: ${target.port}
    database: ${target.db.name}
    markerRole: ${target.marker}
    gatewayMarkerRole: ${target.gatewayMarker}
    admin: { user: ${target.adminUser}, passwordFile: ${JSON.stringify(secret)} }
profiles:
  - { name: host-shell, target: host, mode: ephemeral-account, grants: ["group:${t.env.group}"], maxDuration: 1h }
  - { name: pg-read, target: pg, mode: ephemeral-account, grants: [${target.readRole}], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: [host-shell, pg-read], approval: auto }
users:
  - { name: alice, groups: [] }
  - { name: root, groups: [], admin: true }
`;
    const made = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const dataDir = join(t.dir, `broker${i}`);
        mkdirSync(dataDir, { mode: 0o700 });
        const pgPort = await freePort();
        const sshPort = await freePort();
        const configPath = join(t.dir, `broker${i}.yaml`);
        writeFileSync(
          configPath,
          `gateways:\n  postgres: { listen: "127.0.0.1:${pgPort}", tlsCert: ${JSON.stringify(cert.certFile)}, tlsKey: ${JSON.stringify(cert.keyFile)} }\n  ssh: { listen: "127.0.0.1:${sshPort}" }\n${common}`,
        );
        return { configPath, dataDir, pgPort, sshPort };
      }),
    );
    // Started together: they race for the migrations and for making the host key.
    const brokers = await Promise.all(
      made.map((m) => startChildBroker({ configPath: m.configPath, dataDir: m.dataDir, extraEnv: { STINT_STORE_URL: store.url } })),
    );
    made.forEach((m, i) => nodes.push({ broker: brokers[i]!, dataDir: m.dataDir, pgPort: m.pgPort, sshPort: m.sshPort }));
    admin = (await Promise.any(nodes.map((n) => n.broker.adminToken()))).trim();
    alice = (await http(nodes[0]!.broker.url, admin, 'POST', '/v1/tokens', { user: 'alice' })).body.secret;
    const key = testKeyPair('alice@laptop');
    keyFile = t.writeKey('alice_key', key.private);
    assert.equal((await http(nodes[1]!.broker.url, admin, 'POST', '/v1/keys', { user: 'alice', publicKey: key.public })).status, 201);
    lb = await startHaproxy(nodes.map((n) => ({ api: Number(new URL(n.broker.url).port), postgres: n.pgPort, ssh: n.sshPort })));
  });

  after(async () => {
    await lb?.stop();
    await Promise.all(nodes.map((n) => n.broker.stop()));
    await t?.teardown();
    await target?.drop();
    await store?.drop();
  });

  it('every broker presents one SSH host key (OpenSSH checks it strictly, directly and through HAProxy) and one TLS certificate', async () => {
    const infos = await Promise.all(nodes.map(async (n) => (await http(n.broker.url, alice, 'GET', '/v1/gateways')).body));
    const hostKey: string = infos[0].ssh.hostKey;
    assert.match(hostKey, /^ssh-ed25519 /);
    for (const i of infos) assert.equal(i.ssh.hostKey, hostKey);
    knownHosts = join(t.dir, 'known_hosts');
    writeFileSync(knownHosts, [...nodes.map((n) => n.sshPort), lb.sshPort].map((p) => `[127.0.0.1]:${p} ${hostKey}\n`).join(''));
    for (const n of nodes) {
      const r = await t.run('ssh', [...sshStrict(n.sshPort), '-T', 'whoami']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out.trim(), /^stint_alice_[a-z0-9]{6}$/);
    }
    // Twice through HAProxy (round robin: two brokers).
    for (let i = 0; i < 2; i++) {
      const r = await t.run('ssh', [...sshStrict(lb.sshPort), '-T', 'whoami']);
      assert.equal(r.code, 0, r.err);
    }
    const fingerprints = new Set<string>();
    for (const port of [...nodes.map((n) => n.pgPort), lb.postgresPort]) {
      const c = pgClient(port);
      await c.connect();
      fingerprints.add((c as unknown as { connection: { stream: TLSSocket } }).connection.stream.getPeerCertificate().fingerprint256);
      await c.end();
    }
    assert.equal(fingerprints.size, 1);
  });

  it('stint sessions show on broker B shows what broker A recorded: an SSH terminal recording and a PostgreSQL statement log', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const r = await t.run('ssh', [...sshStrict(a.sshPort), '-tt', 'echo recorded-on-$((40+2))']);
    assert.equal(r.code, 0, r.err);
    const ended = async (url: string, profile: string) =>
      ((await http(url, alice, 'GET', '/v1/sessions')).body.sessions as { id: string; profile: string; status: string; recording: boolean }[]).filter(
        (s) => s.profile === profile && s.status === 'ended',
      );
    await until('the ssh session ended, seen from broker B', async () => (await ended(b.broker.url, 'host-shell')).some((s) => s.recording), 60_000);
    const sshSession = (await ended(b.broker.url, 'host-shell')).find((s) => s.recording)!;
    const play = await cli(b.broker.url, 'sessions', 'play', sshSession.id, '--idle-limit', '0.1');
    assert.equal(play.code, 0, play.stderr);
    assert.match(play.stdout, /recorded-on-42/);
    const shown = await cli(c.broker.url, 'sessions', 'show', sshSession.id, '--json');
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(JSON.parse(shown.stdout).channels[0].kind, 'exec');

    const client = pgClient(a.pgPort);
    await client.connect();
    await client.query('SELECT count(*) FROM public.items');
    await client.query("SELECT 'from broker A'");
    await client.end();
    await until('the postgres session ended, seen from broker C', async () => (await ended(c.broker.url, 'pg-read')).length > 0, 60_000);
    const pgSession = (await ended(c.broker.url, 'pg-read'))[0]!;
    const show = await cli(c.broker.url, 'sessions', 'show', pgSession.id);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /SELECT count\(\*\) FROM public\.items/);
    const page = await cli(b.broker.url, 'sessions', 'show', pgSession.id, '--json');
    const detail = JSON.parse(page.stdout);
    assert.equal(detail.statementsTotal, 2);
    assert.deepEqual(
      detail.statements.map((s: { sql: string }) => s.sql),
      ['SELECT count(*) FROM public.items', "SELECT 'from broker A'"],
    );
    // The end audit event carries the SHA-256 of the log as stored.
    const events = (await http(b.broker.url, admin, 'GET', `/v1/audit?action=session.ended&limit=100`)).body.events as {
      details: { sessionId: string; recordingSha256?: { log: string } | null };
    }[];
    assert.match(events.find((e) => e.details.sessionId === pgSession.id)?.details.recordingSha256?.log ?? '', /^[0-9a-f]{64}$/);
  });

  it('a broker killed: API calls and new ssh and psql connections through HAProxy go on; only the sessions it held end', async () => {
    // Three consecutive connections, round robin: one on each broker. Each echoes what it is sent.
    const clients = [0, 1, 2].map(() => {
      const c = t.spawn('ssh', [...sshStrict(lb.sshPort), '-T', 'echo ready; cat']);
      let out = '';
      c.stdout!.on('data', (d) => (out += d));
      const closed = once(c, 'close');
      return { c, out: () => out, closed, gone: false };
    });
    for (const [i, x] of clients.entries()) await until(`session ${i} ready`, () => x.out().includes('ready\n'), 60_000);
    for (const x of clients) void x.closed.then(() => (x.gone = true));
    const victim = nodes[0]!;
    victim.broker.proc.kill('SIGKILL');
    await victim.broker.exited;
    await until('the session on the killed broker ended', () => clients.some((x) => x.gone), 60_000);
    const alive = clients.filter((x) => !x.gone);
    assert.equal(alive.length, 2, 'the sessions on the other brokers go on');
    for (const [i, x] of alive.entries()) {
      x.c.stdin!.write(`still-here-${i}\n`);
      await until(`session ${i} answers`, () => x.out().includes(`still-here-${i}\n`), 30_000);
    }

    // The API through HAProxy answers every call, including ones whose connection first went to the dead broker.
    for (let i = 0; i < 12; i++) {
      const r = await http(lb.url, alice, 'GET', '/v1/grants');
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const req = await http(lb.url, alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m', reason: 'after the kill' });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    for (let i = 0; i < 3; i++) {
      const r = await t.run('ssh', [...sshStrict(lb.sshPort), '-T', 'whoami']);
      assert.equal(r.code, 0, r.err);
      const c = pgClient(lb.postgresPort);
      await c.connect();
      assert.equal((await c.query('SELECT count(*)::int AS n FROM public.items')).rows[0].n, 2);
      await c.end();
    }
    for (const x of alive) x.c.stdin!.end();
    await Promise.all(alive.map((x) => x.closed));
  });
});
