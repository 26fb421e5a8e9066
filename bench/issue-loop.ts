// Issuance only, for before/after comparisons of the broker's own CPU: N
// auto-approved ephemeral-account requests over HTTP, in batches; between
// batches the accounts are dropped raw (outside the broker, untimed), so the
// target's catalogue stays small and PostgreSQL's cost per CREATE ROLE stays
// put from batch to batch. Prints the rate and where the CPU went per
// issuance: the broker (all threads, and its event loop on a core / waiting
// for one), the load generator and the whole machine. Asserts nothing.
//
//   node --import tsx bench/issue-loop.ts [--n 3000] [--concurrency 8] [--batch 250] [--store sqlite|postgres]
//
// Profile the broker with STINT_BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".

import { parseArgs } from 'node:util';
import { addCpu, dropRoleSql, fmt, httpClient, intFlag, progress, runLoop, startCpuMeter, storeFlag, withBenchEnv, type CpuSpent } from './lib.js';

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
    batch: { type: 'string' },
    store: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write('node --import tsx bench/issue-loop.ts [--n 3000] [--concurrency 8] [--batch 250] [--store sqlite|postgres]\n');
  process.exit(0);
}
const N = intFlag(flags.n, 'n', 3000);
const C = intFlag(flags.concurrency, 'concurrency', 8);
const B = intFlag(flags.batch, 'batch', 250);
const storeKind = storeFlag(flags.store);

async function main() {
  await withBenchEnv(storeKind, 900_000, async (env, startBroker) => {
    const home = await env.newBrokerHome('loop', { revokeConcurrency: C });
    const b = await startBroker(home);
    const pool = await env.adminPool(2);
    const client = httpClient(b.ready.url, C);
    const tok = await client.request('POST', '/v1/tokens', b.adminToken, { user: 'alice' });
    if (tok.status !== 201) throw new Error(`could not issue a token for alice: ${tok.status}`);
    const alice = (tok.body as { secret: string }).secret;
    const issue = async () => {
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
    progress('warm-up: 300 issuances');
    await runLoop(300, C, issue);
    await dropAccounts();
    let ok = 0;
    let errors = 0;
    let firstError: string | null = null;
    let cpu: CpuSpent | null = null;
    for (let done = 0; done < N; done += B) {
      const n = Math.min(B, N - done);
      const stop = startCpuMeter(b.ready.pid);
      const r = await runLoop(n, C, issue);
      cpu = addCpu(cpu, stop());
      ok += r.ok;
      errors += r.errors;
      firstError ??= r.firstError;
      progress(`${done + n}/${N}`);
      await dropAccounts();
    }
    client.close();
    const problems = await b.close();
    const per = (ms: number) => fmt(ms / Math.max(1, ok), 2);
    const lines = [
      '',
      `== issuance loop: ${ok} auto-approved requests at concurrency ${C}, batches of ${B}, store ${storeKind}${errors ? ` (${errors} errors, first: ${firstError})` : ''}`,
    ];
    if (cpu) {
      lines.push(
        `rate ${fmt((ok / cpu.wallMs) * 1000)}/s; CPU per issuance: broker ${per(cpu.brokerMs)} ms (event loop on a core ${per(cpu.brokerMainMs)}, waiting for one ${per(cpu.brokerMainWaitMs)}), ` +
          `load generator ${per(cpu.benchMs)} ms, whole machine ${per(cpu.machineBusyMs)} ms (${fmt((cpu.machineBusyMs / Math.max(1, cpu.machineCapacityMs)) * 100, 0)}% busy)`,
      );
    } else {
      lines.push('(no /proc here: CPU figures unavailable)');
    }
    lines.push(`broker log: ${problems.errors} error and ${problems.warnings} warning lines`, '');
    process.stdout.write(lines.join('\n'));
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`issue-loop failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
