// Issuance through HAProxy to three brokers sharing one PostgreSQL store, vs
// straight to one of them, in the same run: N auto-approved ephemeral-account
// requests over keep-alive HTTP per round, rounds alternating which path goes
// first; between rounds the accounts are dropped raw (untimed) so the
// target's catalogue stays small. HAProxy is the Debian binary with the
// config the tests use (src/testing/servers/haproxy.ts). Asserts nothing.
//
//   node --import tsx bench/haproxy-issue.ts [--n 500] [--rounds 4] [--concurrency 8]

import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startHaproxy } from '../src/testing/servers/haproxy.js';
import { dropRoleSql, fmt, httpClient, intFlag, progress, runLoop, stats, withBenchEnv, type LoopResult } from './lib.js';

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string' },
    rounds: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write('node --import tsx bench/haproxy-issue.ts [--n 500] [--rounds 4] [--concurrency 8]\n');
  process.exit(0);
}
const N = intFlag(flags.n, 'n', 500);
const R = intFlag(flags.rounds, 'rounds', 4);
const C = intFlag(flags.concurrency, 'concurrency', 8);

async function main() {
  await withBenchEnv('postgres', 1_200_000, async (env, startBroker) => {
    const first = await env.newBrokerHome('lb1', { revokeConcurrency: C });
    const b1 = await startBroker(first);
    const others = [];
    for (const name of ['lb2', 'lb3']) {
      // One store for all three; the admin token was issued once, by the first.
      const home = { ...(await env.newBrokerHome(name, { revokeConcurrency: C })), storeUrl: first.storeUrl };
      await copyFile(join(first.dataDir, 'admin.token'), join(home.dataDir, 'admin.token'));
      others.push(await startBroker(home));
    }
    const brokers = [b1, ...others];
    const lb = await startHaproxy(brokers.map((b) => ({ api: Number(new URL(b.ready.url).port) })));
    // Stopped however the run ends (the guard's time limit included).
    process.once('exit', () => void lb.stop());
    const pool = await env.adminPool(2);
    const direct = httpClient(b1.ready.url, C);
    const balanced = httpClient(lb.url, C);
    const tok = await direct.request('POST', '/v1/tokens', b1.adminToken, { user: 'alice' });
    if (tok.status !== 201) throw new Error(`could not issue a token for alice: ${tok.status}`);
    const alice = (tok.body as { secret: string }).secret;
    const issue = (client: typeof direct) => async () => {
      const r = await client.request('POST', '/v1/requests', alice, { profile: 'pg-read', duration: '1h', reason: 'bench' });
      if (r.status !== 201 || r.body?.grant?.status !== 'active') throw new Error(`request: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    };
    const dropAccounts = async () => {
      const { rows } = await pool.query<{ rolname: string }>(
        `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE m.roleid = $1::regrole AND r.rolname <> current_user`,
        [env.target.marker],
      );
      for (const { rolname } of rows) await pool.query(dropRoleSql(rolname));
    };
    const warm = Math.min(200, N);
    progress(`warm-up: ${warm} issuances each way`);
    await runLoop(warm, C, issue(direct));
    await runLoop(warm, C, issue(balanced));
    await dropAccounts();
    const results: Record<'direct' | 'haproxy', LoopResult[]> = { direct: [], haproxy: [] };
    for (let round = 0; round < R; round++) {
      const order: ('direct' | 'haproxy')[] = round % 2 === 0 ? ['direct', 'haproxy'] : ['haproxy', 'direct'];
      for (const path of order) {
        results[path].push(await runLoop(N, C, issue(path === 'direct' ? direct : balanced)));
        await dropAccounts();
        progress(`round ${round + 1}/${R}: ${path} done`);
      }
    }
    direct.close();
    balanced.close();
    await lb.stop();
    const problems = await Promise.all(brokers.map((b) => b.close()));
    const sum = (rs: LoopResult[]) => {
      const ok = rs.reduce((a, r) => a + r.ok, 0);
      const wall = rs.reduce((a, r) => a + r.wallMs, 0);
      const lat = stats(rs.flatMap((r) => r.latencies));
      const errors = rs.reduce((a, r) => a + r.errors, 0);
      return { ok, rate: (ok / wall) * 1000, lat, errors, firstError: rs.find((r) => r.firstError)?.firstError ?? null };
    };
    const d = sum(results.direct);
    const h = sum(results.haproxy);
    const line = (name: string, x: ReturnType<typeof sum>) =>
      `| ${name} | ${fmt(x.rate)}/s | ${fmt(x.lat.p50)} ms | ${fmt(x.lat.p99)} ms | ${x.errors}${x.firstError ? ` (first: ${x.firstError})` : ''} |`;
    process.stdout.write(
      [
        '',
        `== issuance: ${R} rounds of ${N} auto-approved requests each way at concurrency ${C}, PostgreSQL store shared by 3 brokers`,
        '| path | rate | p50 | p99 | errors |',
        '| --- | --- | --- | --- | --- |',
        line('straight to 1 broker', d),
        line('HAProxy → 3 brokers', h),
        `ratio HAProxy/3 : direct/1 = ${fmt(h.rate / d.rate, 2)}x (goal >= 0.9x)`,
        `broker logs: ${problems.map((p) => `${p.errors} errors, ${p.warnings} warnings`).join('; ')}`,
        '',
      ].join('\n'),
    );
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`haproxy-issue failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
