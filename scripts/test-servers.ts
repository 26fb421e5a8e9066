// Starts the real servers the test suite needs on loopback ports of its own
// choosing, prints their connection settings as `KEY=value` lines on stdout,
// then waits; on SIGTERM/SIGINT it stops them and deletes their data.
// STINT_TEST_SERVERS=postgres,ldap starts only those (for running a few test
// files beside a full run: only one Samba AD DC fits on a host).

import { startEmbeddedPostgres } from '../src/embedded/postgres.js';
import { startKeystoneTestServers } from '../src/testing/servers/keystone.js';
import { startLdapTestServer } from '../src/testing/servers/ldap.js';
import { startMysqlTestServer } from '../src/testing/servers/mysql.js';
import { startRedisTestServer } from '../src/testing/servers/redis.js';
import { startSambaTestServer } from '../src/testing/servers/samba.js';
import { startSshTestServer } from '../src/testing/servers/ssh.js';

interface Started {
  env: Record<string, string>;
  stop(): Promise<void>;
}

const servers: Record<string, () => Promise<Started>> = {
  postgres: async () => {
    const pg = await startEmbeddedPostgres();
    return { env: { STINT_TEST_PG_URL: pg.url() }, stop: () => pg.destroy() };
  },
  mysql: startMysqlTestServer,
  redis: startRedisTestServer,
  ldap: startLdapTestServer,
  ssh: startSshTestServer,
  ad: startSambaTestServer,
  keystone: startKeystoneTestServers,
};

const only = process.env.STINT_TEST_SERVERS?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = (only ?? []).filter((name) => !(name in servers));
if (unknown.length > 0) {
  process.stderr.write(`STINT_TEST_SERVERS: unknown server ${unknown.join(', ')} (known: ${Object.keys(servers).join(', ')})\n`);
  process.exit(2);
}
const chosen = Object.entries(servers).filter(([name]) => !only || only.includes(name));

const started: { name: string; stop: () => Promise<void> }[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  await Promise.all(started.map((s) => s.stop().catch((e) => process.stderr.write(`stopping ${s.name}: ${String(e)}\n`))));
  process.exit(code);
}
process.on('SIGTERM', () => void stopAll(0));
process.on('SIGINT', () => void stopAll(0));

const results = await Promise.allSettled(
  chosen.map(async ([name, start]) => {
    const t0 = Date.now();
    const s = await start();
    started.push({ name, stop: s.stop });
    process.stderr.write(`${name} ready in ${Date.now() - t0} ms\n`);
    return s.env;
  }),
);
const failed = results.flatMap((r, i) =>
  r.status === 'rejected' ? [`${chosen[i]![0]}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : [],
);
if (failed.length > 0) {
  process.stderr.write(`test servers failed to start:\n${failed.join('\n')}\n`);
  await stopAll(1);
}
for (const r of results) if (r.status === 'fulfilled') for (const [k, v] of Object.entries(r.value)) process.stdout.write(`${k}=${v}\n`);
process.stdout.write('READY=1\n');
// Keep running until told to stop.
setInterval(() => {}, 1 << 30);
