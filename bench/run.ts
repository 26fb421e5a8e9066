// Runs bench/issue-rate.ts, bench/scale.ts, bench/gateways.ts and
// bench/cli-startup.ts (each in its
// own process, each with its own embedded PostgreSQL), prints their tables,
// then a summary block for the README's "Performance" section. Prints
// figures; asserts nothing.
//
//   node --import tsx bench/run.ts            # full size (several minutes)
//   node --import tsx bench/run.ts --quick    # smoke run (~3 min): --n 200 --scale-grants 5000 --expiry 300 --drain 500, gateways.ts --quick
//   node --import tsx bench/run.ts --only gateways   # one of issue, scale, gateways, cli

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { commandLine, fmt, fmtInt, machineInfo, progress, ratio } from './lib.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    n: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
    store: { type: 'string' },
    'scale-grants': { type: 'string' },
    expiry: { type: 'string' },
    'expiry-rate': { type: 'string' },
    drain: { type: 'string' },
    'revoke-concurrency': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (flags.help) {
  process.stdout.write(`node --import tsx bench/run.ts [options]
  --quick                 smoke run: --n 200 --scale-grants 5000 --expiry 300 --drain 500, and gateways.ts --quick (explicit flags win)
  --only issue|scale|gateways|cli   run one of the four
  --n, --concurrency, --store                        passed to issue-rate.ts (and --concurrency, --store to scale.ts)
  --scale-grants, --expiry, --expiry-rate, --drain,
  --revoke-concurrency                               passed to scale.ts
  (bench/gateways.ts takes its own flags: run it directly for those, --help lists them)
`);
  process.exit(0);
}

const quick = flags.quick ? { n: '200', 'scale-grants': '5000', expiry: '300', drain: '500' } : ({} as Record<string, string>);
const pick = (name: keyof typeof flags): string | undefined => (flags[name] as string | undefined) ?? (quick as Record<string, string>)[name];
const pass = (names: (keyof typeof flags)[]): string[] =>
  names.flatMap((n) => {
    const v = pick(n);
    return v === undefined ? [] : [`--${n}`, v];
  });

const here = dirname(fileURLToPath(import.meta.url));

function runScript(script: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, script), ...args], {
      cwd: join(here, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += String(d);
      process.stdout.write(d);
    });
    const forward = (s: NodeJS.Signals) => child.kill(s);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code) => {
      process.removeListener('SIGINT', forward);
      process.removeListener('SIGTERM', forward);
      resolve({ code: code ?? 1, stdout });
    });
  });
}

async function main() {
  const only = flags.only;
  if (only !== undefined && !['issue', 'scale', 'gateways', 'cli'].includes(only)) {
    process.stderr.write(`--only must be issue, scale, gateways or cli, not ${JSON.stringify(only)}\n`);
    process.exit(2);
  }
  const dir = await mkdtemp(join(tmpdir(), 'stint-bench-run-'));
  try {
    let issue: any = null;
    let scale: any = null;
    let gateways: any = null;
    let cli: any = null;
    if (!only || only === 'issue') {
      progress('== bench/issue-rate.ts');
      const r = await runScript('issue-rate.ts', [...pass(['n', 'concurrency', 'store']), '--json', join(dir, 'issue.json')]);
      if (r.code === 0) issue = JSON.parse(await readFile(join(dir, 'issue.json'), 'utf8'));
      else process.stderr.write(`issue-rate.ts exited with ${r.code}\n`);
    }
    if (!only || only === 'scale') {
      progress('== bench/scale.ts');
      const r = await runScript('scale.ts', [
        ...pass(['concurrency', 'store', 'scale-grants', 'expiry', 'expiry-rate', 'drain', 'revoke-concurrency']),
        '--json',
        join(dir, 'scale.json'),
      ]);
      if (r.code === 0) scale = JSON.parse(await readFile(join(dir, 'scale.json'), 'utf8'));
      else process.stderr.write(`scale.ts exited with ${r.code}\n`);
    }
    if (!only || only === 'gateways') {
      progress('== bench/gateways.ts');
      const r = await runScript('gateways.ts', [...(flags.quick ? ['--quick'] : []), '--json', join(dir, 'gateways.json')]);
      if (r.code === 0) gateways = JSON.parse(await readFile(join(dir, 'gateways.json'), 'utf8'));
      else process.stderr.write(`gateways.ts exited with ${r.code}\n`);
    }
    if (!only || only === 'cli') {
      progress('== bench/cli-startup.ts');
      const r = await runScript('cli-startup.ts', [...(flags.quick ? ['--runs', '10'] : []), '--json', join(dir, 'cli.json')]);
      if (r.code === 0) cli = JSON.parse(await readFile(join(dir, 'cli.json'), 'utf8'));
      else process.stderr.write(`cli-startup.ts exited with ${r.code}\n`);
    }
    process.stdout.write(summary(issue, scale, gateways, cli));
    const failed = (name: string, result: unknown) => result === null && (!only || only === name);
    process.exitCode = failed('issue', issue) || failed('scale', scale) || failed('gateways', gateways) || failed('cli', cli) ? 1 : 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function summary(issue: any, scale: any, gateways: any, cli: any): string {
  const m = machineInfo();
  const L: string[] = [];
  L.push('');
  L.push('==================== summary (paste into README "Performance") ====================');
  L.push('');
  L.push(`Measured with \`${commandLine()}\` on ${m.cpus} CPUs (${m.cpuModel}), ${m.memGiB} GiB, ${m.os}, Node ${m.node}.`);
  L.push(`Each run starts its own embedded PostgreSQL 17 (fsync=off) and a broker in a child process (${issue?.store ?? scale?.store ?? 'sqlite'} store);`);
  L.push('all traffic is on 127.0.0.1. "raw" is the same target operation done directly as the admin role in the same run, at the same');
  L.push('concurrency; ratios compare the two, because absolute numbers on a small, shared machine move from run to run.');
  L.push('');
  L.push('| measure | goal | Stint | raw PostgreSQL | ratio |');
  L.push('| --- | --- | --- | --- | --- |');
  if (issue) {
    const s = issue.stint;
    const r = issue.raw;
    const ba = issue.brokerAdded;
    L.push(
      `| issue an ephemeral account (auto-approved, HTTP, ${issue.n} at concurrency ${issue.concurrency}) | ≥ 0.9× raw | ${fmt(s.issueRate)}/s; p50 ${fmt(s.issueP50, 0)} ms, p99 ${fmt(s.issueP99, 0)} ms | ${fmt(r.createRate)}/s; p50 ${fmt(r.createP50, 0)} ms, p99 ${fmt(r.createP99, 0)} ms | ${fmt(issue.ratios.issue, 2)}× (rounds: ${fmt(Math.min(...issue.ratios.issuePerRound), 2)}–${fmt(Math.max(...issue.ratios.issuePerRound), 2)}×) |`,
    );
    L.push(
      `| broker-added latency per issue (inside the broker, target call excluded) | p99 < 2 ms | p50 ${fmt(ba.issue.p50, 2)} ms, p99 ${fmt(ba.issue.p99, 2)} ms | — | — |`,
    );
    L.push(
      `| revoke / check-in (HTTP, concurrency ${issue.concurrency}) | — | ${fmt(s.revokeRate)}/s; p50 ${fmt(s.revokeP50, 0)} ms, p99 ${fmt(s.revokeP99, 0)} ms | ${fmt(r.dropRate)}/s DROP ROLE; p50 ${fmt(r.dropP50, 0)} ms | ${fmt(issue.ratios.revoke, 2)}× |`,
    );
    L.push(`| broker-added latency per revoke | — | p50 ${fmt(ba.revoke.p50, 2)} ms, p99 ${fmt(ba.revoke.p99, 2)} ms | — | — |`);
  }
  const a = scale?.a;
  if (a) {
    const n = fmtInt(scale.params.scaleGrants);
    L.push(
      `| broker start to ready (createApp → first /healthz 200) with ${n} active grants | < 5 s | ${fmt(a.full.ready.readyMs, 0)} ms (empty store: ${fmt(a.empty.ready.readyMs, 0)} ms) | — | — |`,
    );
    L.push(
      `| broker RSS${a.full.ready.gc ? ' after GC' : ''} with ${n} active grants | < 300 MB | ${fmt(a.full.ready.rss / 2 ** 20, 0)} MiB (empty store: ${fmt(a.empty.ready.rss / 2 ** 20, 0)} MiB) | — | — |`,
    );
  }
  const b = scale?.b;
  if (b) {
    L.push(
      `| expiry lag (revokedAt − expiresAt) at ${scale.params.expiryRate} expiries/s, ${b.revoked} grants | p99 < 1 s | p50 ${fmt(b.lag.p50, 0)} ms, p99 ${fmt(b.lag.p99, 0)} ms, max ${fmt(b.lag.max, 0)} ms | — | — |`,
    );
  }
  const c = scale?.c;
  if (c) {
    const s = c.stint;
    L.push(
      `| drain: ${fmtInt(s.revoked)} grants due in the same second (revokeConcurrency ${c.revokeConcurrency}; at most ${s.maxInFlightRemoves} target removals at once) | ≥ 0.9× raw | all revoked in ${fmt(s.drainMs / 1000, 1)} s (${fmt(s.drainRate, 0)}/s) | ${fmt(c.raw.dropMs / 1000, 1)} s (${fmt(c.raw.dropRate, 0)} DROP ROLE/s) | ${ratio(s.drainRate, c.raw.dropRate)} |`,
    );
    L.push(
      `| API during that drain: GET /v1/grants?all=true&limit=100 every 50 ms | p99 < 500 ms | p50 ${fmt(s.poll.p50, 0)} ms, p99 ${fmt(s.poll.p99, 0)} ms (${s.poll.n} calls, ${s.pollErrors} errors) | — | — |`,
    );
  }
  if (gateways) L.push(...gatewaySummary(gateways));
  for (const c of cli?.commands.slice(1) ?? []) {
    const base = cli.commands[0];
    L.push(
      `| CLI start-up: ${c.name}, median of ${cli.runs} | ≤ 1.5× node -e 0 | ${fmt(c.wall.p50, 0)} ms wall, ${fmt(c.cpu.p50, 0)} ms CPU | node -e 0: ${fmt(base.wall.p50, 0)} ms wall, ${fmt(base.cpu.p50, 0)} ms CPU | ${fmt(c.wallRatio, 2)}× |`,
    );
  }
  L.push('');
  return L.join('\n') + '\n';
}

function gatewaySummary(g: any): string[] {
  const L: string[] = [];
  const p = g.params;
  const pgb = g.pgbench;
  if (pgb) {
    L.push(
      `| pgbench -S -c ${p.clients} -j ${p.threads} -T ${p.duration} (kept connections), sslmode=require | gateway ${fmt(pgb.tps.gateway, 0)} tps | direct ${fmt(pgb.tps.direct, 0)} tps; PgBouncer (${p.poolMode}) ${fmt(pgb.tps.pgbouncer, 0)} tps | ${ratio(pgb.tps.gateway, pgb.tps.direct)} of direct, ${ratio(pgb.tps.gateway, pgb.tps.pgbouncer)} of PgBouncer |`,
    );
    L.push(
      `| the same, sslmode=disable | gateway ${fmt(pgb.tps.gatewayPlain, 0)} tps | direct ${fmt(pgb.tps.directPlain, 0)} tps; PgBouncer ${fmt(pgb.tps.pgbouncerPlain, 0)} tps | ${ratio(pgb.tps.gatewayPlain, pgb.tps.directPlain)} of direct |`,
    );
    const rc = (path: string) => pgb.reconnect.find((x: any) => x.path === path);
    if (rc('gateway'))
      L.push(
        `| pgbench -S -C (a new connection, and through the gateway a new account, per transaction) | gateway ${fmt(rc('gateway').tps, 1)} tps | direct ${fmt(rc('direct')?.tps ?? NaN, 1)} tps; PgBouncer ${fmt(rc('pgbouncer')?.tps ?? NaN, 1)} tps | ${ratio(rc('gateway').tps, rc('direct')?.tps ?? NaN)} of direct |`,
      );
  }
  for (const mode of ['sequential', 'concurrent']) {
    const gw = g.connect?.find((x: any) => x.mode === mode && x.name.startsWith('gateway'));
    const raw = g.connect?.find((x: any) => x.mode === mode && x.name.startsWith('raw: CREATE'));
    if (gw && raw)
      L.push(
        `| connect through the gateway incl. account creation, ${mode}${mode === 'concurrent' ? ` (${p.connectConcurrency} in flight)` : ''} | p50 ${fmt(gw.latency.p50)} ms, p99 ${fmt(gw.latency.p99)} ms | CREATE ROLE + GRANT + login: p50 ${fmt(raw.latency.p50)} ms, p99 ${fmt(raw.latency.p99)} ms | +${fmt(gw.latency.p99 - raw.latency.p99)} ms at p99 |`,
      );
  }
  for (const row of g.scp?.rows ?? []) {
    if (row.path !== 'gateway') continue;
    const d = g.scp.rows.find((x: any) => x.name === row.name && x.path === 'direct');
    L.push(
      `| ${row.name} through the SSH gateway | ${fmt(row.mbps)} MB/s | direct to sshd ${fmt(d?.mbps ?? NaN)} MB/s | ${ratio(row.mbps, d?.mbps ?? NaN)} of direct |`,
    );
  }
  return L;
}

main().catch((err) => {
  process.stderr.write(`bench/run.ts failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
