// Keystone own-account grant + revoke: Stint end to end (in process: request
// auto-approved, role assignment added; revoke, assignment removed) versus the
// raw REST calls (assignment PUT + DELETE with an admin token over the same
// kind of keep-alive client), alternating pair by pair in the same run, one at
// a time (one Keystone worker serves about 5 such pairs a second). Then the time
// from "revoke called" to "the person's project token is refused", p99.
// Prints figures; asserts nothing.
//
//   node --import tsx bench/keystone.ts [--n 40] [--refused 40] [--mode legacy|strict]
//
// Uses STINT_TEST_KEYSTONE_* when set, else starts its own Keystone (legacy policy).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createApp, type App } from '../src/app.js';
import { path } from '../src/connectors/keystone/http.js';
import { keystoneFixture, type KeystoneFixture } from '../src/connectors/keystone/testing/keystone-test-env.js';
import type { UserDef } from '../src/core/types.js';
import { fmt, guardProcess, intFlag, machineInfo, progress, ratio, stats, table } from './lib.js';

const { values: flags } = parseArgs({ options: { n: { type: 'string' }, refused: { type: 'string' }, mode: { type: 'string' } } });
const n = intFlag(flags.n, 'n', 40);
const refusedN = intFlag(flags.refused, 'refused', 40);
const mode = flags.mode === 'strict' ? 'strict' : 'legacy';

let f: KeystoneFixture | null = null;
let app: App | null = null;
let dir: string | null = null;
const cleanup = async () => {
  await app?.close();
  await f?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
};
const guard = guardProcess(cleanup, 30 * 60_000);

progress('starting Keystone (or using STINT_TEST_KEYSTONE_*)');
f = await keystoneFixture(mode);
const fx = f;
const roles = (await fx.admin('GET', '/roles?name=member')).body as { roles: { id: string; name: string }[] };
const memberId = roles.roles.find((r) => r.name === 'member')!.id;
dir = await mkdtemp(join(tmpdir(), 'stint-bench-ks-'));
await writeFile(join(dir, 'ks.secret'), fx.server.adminPassword, { mode: 0o600 });
const fields = Object.entries(fx.settings({ requestTimeoutMs: 120_000 }))
  .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
  .join(', ');
await writeFile(
  join(dir, 'stint.yaml'),
  `targets:
  - { name: cloud, kind: keystone, ${fields}, admin: { user: admin, passwordFile: ks.secret } }
profiles:
  - { name: app, target: cloud, mode: own-account, grants: ["member@${fx.app.name}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: [app], approval: auto }
users:
  - { name: alice, groups: [], accounts: { cloud: ${JSON.stringify(fx.own.name)} } }
`,
);
app = await createApp({
  configPath: join(dir, 'stint.yaml'),
  dataDir: join(dir, 'data'),
  env: { STINT_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') },
  logger: pino({ level: 'silent' }),
});
const a = app;
const alice = a.catalog.users.get('alice') as UserDef;
const assignment = path('projects', fx.app.id, 'users', fx.own.id, 'roles', memberId);

async function raw(): Promise<number> {
  const t = performance.now();
  await fx.admin('PUT', assignment);
  await fx.admin('DELETE', assignment);
  return performance.now() - t;
}
async function stint(): Promise<number> {
  const t = performance.now();
  const g = (await a.requests.create({ actor: alice, profile: 'app', durationMs: 600_000, reason: null, ticket: null })).grant!;
  if (g.status !== 'active') throw new Error(`grant ${g.status}`);
  const r = await a.grants.revoke({ grantId: g.id, actor: alice });
  if (r.status !== 'revoked') throw new Error(`revoke ${r.status}`);
  return performance.now() - t;
}

// Warm-up: tokens, caches, sqlite pages.
await raw();
await stint();
const rawMs: number[] = [];
const stintMs: number[] = [];
progress(`${n} pairs each, alternating which goes first`);
for (let i = 0; i < n; i++) {
  if (i % 2 === 0) {
    rawMs.push(await raw());
    stintMs.push(await stint());
  } else {
    stintMs.push(await stint());
    rawMs.push(await raw());
  }
}

progress(`${refusedN} revokes timed to "the person's token is refused"`);
const refusedMs: number[] = [];
const revokeCallMs: number[] = [];
for (let i = 0; i < refusedN; i++) {
  const g = (await a.requests.create({ actor: alice, profile: 'app', durationMs: 600_000, reason: null, ticket: null })).grant!;
  const tok = await fx.passwordToken({ name: fx.own.name }, fx.own.password, fx.app.id);
  if (!tok || !(await fx.tokenValid(tok))) throw new Error('no working project token during the grant');
  const t0 = performance.now();
  await a.grants.revoke({ grantId: g.id, actor: alice });
  revokeCallMs.push(performance.now() - t0);
  while (await fx.tokenValid(tok)) {
    // Keystone refuses it on the first validation after the assignment is gone; this loop only guards the claim.
  }
  refusedMs.push(performance.now() - t0);
}

const r = stats(rawMs);
const s = stats(stintMs);
const rf = stats(refusedMs);
const rc = stats(revokeCallMs);
const m = machineInfo();
console.log(`\nKeystone own-account grant + revoke, ${n} of each, one at a time, ${mode} policy (${JSON.stringify(m)})\n`);
console.log(
  table([
    ['', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms', 'pairs/s'],
    ['raw PUT + DELETE', fmt(r.p50), fmt(r.p90), fmt(r.p99), fmt(r.mean), fmt(1000 / r.mean, 2)],
    ['Stint grant + revoke', fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.mean), fmt(1000 / s.mean, 2)],
  ]),
);
console.log(`\nStint rate / raw rate: ${ratio(r.mean, s.mean)}`);
console.log(
  `\nrevoke called -> token refused, ${refusedN}: p50 ${fmt(rf.p50)} ms, p90 ${fmt(rf.p90)} ms, p99 ${fmt(rf.p99)} ms (the revoke call alone: p50 ${fmt(rc.p50)}, p99 ${fmt(rc.p99)})`,
);
guard.done();
await cleanup();
process.exit(0);
