// Lease takeover after a SIGKILL: two full brokers (`stint server` child
// processes) on one PostgreSQL store. Each round a broker armed with the
// revoke.after-target fault point checks in a grant and dies holding its
// claim (the account is dropped, the grant still `revoking`); the survivor
// must take the revocation over once the lease lapses. Measured from the
// kill being seen to the grant `revoked` by the survivor, beside the lease
// left at the kill (the floor: nobody may take over before it lapses) and
// the lease itself (goal: p99 < lease + 1 s).
//
//   node --import tsx bench/lease-takeover.ts [--rounds N]   (default 10)

import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { defaultGrantSettings } from '../src/core/grant/grant-types.js';
import { createTestTarget } from '../src/testing/broker.js';
import { http, startChildBroker, writeBrokerConfig } from '../src/testing/child-broker.js';
import { createTestDatabase } from '../src/testing/postgres.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' } } });
const rounds = Number(values.rounds);
// A hard limit: the benchmark ends by itself whatever happens.
setTimeout(() => {
  console.error('lease-takeover: gave up after 20 minutes');
  process.exit(2);
}, 1_200_000).unref();

const lease = defaultGrantSettings.revokeLeaseMs;
console.log(
  `load average at the start: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
const target = await createTestTarget();
const storeDb = await createTestDatabase('takeover');
const root = await mkdtemp(join(tmpdir(), 'stint-takeover-'));
const configPath = await writeBrokerConfig(join(root, 'survivor'), target);
const start = (name: string, faults?: string) =>
  startChildBroker({ configPath, dataDir: join(root, name), faults, extraEnv: { STINT_STORE_URL: storeDb.url } });
const survivor = await start('survivor');
const admin = await survivor.adminToken();
const dave = (await http(survivor.url, admin, 'POST', '/v1/tokens', { user: 'dave', description: 'bench' })).body.secret as string;
const survivorId = ((await (await fetch(`${survivor.url}/readyz`)).json()) as { broker: string }).broker;
const store = new pg.Client({ connectionString: storeDb.url });
await store.connect();

const takeover: number[] = [];
const leftAtKill: number[] = [];
try {
  for (let i = 0; i < rounds; i++) {
    const armed = await start(`armed-${i}`, 'revoke.after-target');
    const g = (await http(armed.url, dave, 'POST', '/v1/requests', { profile: 'pg-read', duration: '1h', reason: 'bench' })).body.grant as { id: string };
    void http(armed.url, dave, 'POST', `/v1/grants/${g.id}/revoke`);
    await armed.exited;
    const killedAt = Date.now();
    const claim = (await store.query(`SELECT claimed_until FROM grants WHERE id = $1`, [g.id])).rows[0];
    leftAtKill.push(Math.max(0, Number(claim.claimed_until) - killedAt));
    for (;;) {
      const r = (await store.query(`SELECT status FROM grants WHERE id = $1`, [g.id])).rows[0];
      if (r.status === 'revoked') {
        const ev = (await store.query(`SELECT details FROM audit_events WHERE grant_id = $1 AND action = 'grant.revoked'`, [g.id])).rows;
        const by = JSON.parse(ev[0].details).broker;
        if (ev.length !== 1 || by !== survivorId) throw new Error(`revoked ${ev.length} times, by ${by}, not once by the survivor`);
        break;
      }
      await new Promise((res) => setTimeout(res, 10));
    }
    takeover.push(Date.now() - killedAt);
    process.stdout.write('.');
  }
} finally {
  process.stdout.write('\n');
  await store.end();
  await survivor.stop();
  await target.drop();
  await storeDb.drop();
  await rm(root, { recursive: true, force: true });
}

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const after = takeover.map((t, i) => t - leftAtKill[i]!);
console.log(`rounds: ${rounds}, lease: ${lease} ms`);
console.log(`kill → taken over and revoked: p50 ${q(takeover, 50)} ms, p99 ${q(takeover, 99)} ms, max ${Math.max(...takeover)} ms`);
console.log(`lease left at the kill:         p50 ${q(leftAtKill, 50)} ms, p99 ${q(leftAtKill, 99)} ms`);
console.log(`after the lease lapsed:          p50 ${q(after, 50)} ms, p99 ${q(after, 99)} ms`);
console.log(`p99 / (lease + 1 s): ${(q(takeover, 99) / (lease + 1000)).toFixed(2)} (goal < 1)`);
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
