// Issue and revoke rate: Stint end to end over HTTP versus the same work done
// raw on the target, measured in the same run (ratios, because the machine is
// noisy). Prints figures; asserts nothing.
//
//   node --import tsx bench/issue-rate.ts [--n 2000] [--concurrency 8] [--store sqlite|postgres] [--json out.json]
//
// Raw: N × (BEGIN; CREATE ROLE x LOGIN PASSWORD '<verifier>' VALID UNTIL … IN ROLE marker;
// GRANT app_read TO x; COMMIT) as the CREATEROLE admin through a pg.Pool of size C
// (verifier computed client-side in the timed op, as Stint does), the same with a
// plaintext password (the server computes SCRAM), and N × DROP ROLE.
// Stint: N auto-approved ephemeral-account requests (POST /v1/requests) at
// concurrency C over keep-alive HTTP, then N check-ins (POST /v1/grants/:id/revoke).

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { scramSha256Verifier } from '../src/connectors/postgres/scram.js';
import {
  commandLine, dropRoleSql, fmt, fmtInt, guardProcess, inTx, intFlag, machineInfo, progress, ratio, rawCreateStatements, rawSecret,
  runLoop, startBenchEnv, startBroker, stats, storeFlag, table, writeJson, type BenchBroker, type BenchEnv, type LoopResult, type Stats,
} from './lib.js';

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
    warmup: { type: 'string' },
    store: { type: 'string' },
    json: { type: 'string' },
    'time-limit': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (flags.help) {
  process.stdout.write(`node --import tsx bench/issue-rate.ts [options]
  --n N               operations per measured phase (default 2000)
  --concurrency C     in-flight operations, and raw pool size (default 8)
  --warmup W          unmeasured operations before each phase (default 50)
  --store KIND        broker store: sqlite (default) or postgres (a second database on the same server)
  --json FILE         also write the results as JSON
  --time-limit S      hard stop after S seconds, cleaning up (default 1800)
`);
  process.exit(0);
}

const N = intFlag(flags.n, 'n', 2000);
const C = intFlag(flags.concurrency, 'concurrency', 8);
const W = intFlag(flags.warmup, 'warmup', 50, 0);
const storeKind = storeFlag(flags.store);
const limitMs = intFlag(flags['time-limit'], 'time-limit', 1800) * 1000;

export interface PhaseResult {
  name: string;
  ok: number;
  errors: number;
  firstError: string | null;
  rate: number;
  wallMs: number;
  latency: Stats;
}

const phase = (name: string, r: LoopResult): PhaseResult => ({ name, ok: r.ok, errors: r.errors, firstError: r.firstError, rate: r.rate, wallMs: r.wallMs, latency: stats(r.latencies) });

async function main() {
  let env: BenchEnv | undefined;
  let broker: BenchBroker | undefined;
  const guard = guardProcess(async () => {
    await broker?.close().catch(() => {});
    await env?.destroy();
  }, limitMs);
  const started = performance.now();
  const results: PhaseResult[] = [];
  let brokerProblems = { warnings: 0, errors: 0, firstProblem: null as string | null };
  try {
    env = await startBenchEnv(storeKind);
    const t = env.target;
    const validUntil = () => new Date(Date.now() + 3_600_000);
    const pool = await env.adminPool(C);

    const rawCreate = (prefix: string, plain: boolean) => async (i: number) => {
      const secret = rawSecret();
      const password = plain ? secret : await scramSha256Verifier(secret);
      await inTx(pool, rawCreateStatements(t, `${prefix}_${i}`, password, validUntil()));
    };
    const rawDrop = (prefix: string) => async (i: number) => {
      await pool.query(dropRoleSql(`${prefix}_${i}`));
    };

    // Each raw phase starts and ends with no extra roles on the server, so
    // every comparison runs against the same catalogue size.
    const rawPair = async (label: string, prefix: string, plain: boolean) => {
      if (W > 0) {
        await runLoop(W, C, rawCreate(`${prefix}w`, plain));
        await runLoop(W, C, rawDrop(`${prefix}w`));
      }
      progress(`raw: ${label} create ×${N} at concurrency ${C}`);
      const create = phase(`raw CREATE ROLE+GRANT (${label})`, await runLoop(N, C, rawCreate(prefix, plain), { label: `raw ${label} create` }));
      progress(`raw: DROP ROLE ×${N} at concurrency ${C}`);
      const drop = phase(`raw DROP ROLE (${label} roles)`, await runLoop(N, C, rawDrop(prefix), { label: 'raw drop' }));
      return { create, drop };
    };

    const rawV = await rawPair('SCRAM verifier', 'rawv', false);
    const rawP = await rawPair('plaintext', 'rawp', true);

    progress('starting the broker (createApp + listen)');
    const home = await env.newBrokerHome('issue', { revokeConcurrency: 8 });
    broker = await startBroker(home);
    const b = broker;
    const grantIds: string[] = new Array<string>(N);
    const request = (into: string[] | null) => async (i: number) => {
      const r = await b.http('POST', '/v1/requests', b.aliceToken, { profile: 'pg-read', duration: '1h', reason: 'bench' });
      if (r.status !== 201 || r.body?.grant?.status !== 'active') throw new Error(`request: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      if (into) into[i] = r.body.grant.id as string;
    };
    const revoke = (ids: string[]) => async (i: number) => {
      const r = await b.http('POST', `/v1/grants/${ids[i]}/revoke`, b.aliceToken);
      if (r.status !== 200 || r.body?.grant?.status !== 'revoked') throw new Error(`revoke: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    };
    if (W > 0) {
      const warm: string[] = new Array<string>(W);
      await runLoop(W, C, request(warm));
      await runLoop(W, C, revoke(warm.filter(Boolean)));
    }
    progress(`stint: ${N} ephemeral-account requests over HTTP at concurrency ${C}`);
    const stintCreate = phase('Stint POST /v1/requests (auto-approved, ephemeral)', await runLoop(N, C, request(grantIds), { label: 'stint request' }));
    const live = grantIds.filter(Boolean);
    progress(`stint: ${live.length} check-ins over HTTP at concurrency ${C}`);
    const stintRevoke = phase('Stint POST /v1/grants/:id/revoke', await runLoop(live.length, C, revoke(live), { label: 'stint revoke' }));

    // Drift check: the first raw phase again, after everything else.
    const rawV2 = await rawPair('SCRAM verifier, re-run', 'rawv2', false);
    brokerProblems = await b.close();
    broker = undefined;
    results.push(rawV.create, rawP.create, stintCreate, rawV2.create, rawV.drop, rawP.drop, stintRevoke, rawV2.drop);

    const out = report({ rawV, rawP, rawV2, stintCreate, stintRevoke, brokerProblems, wallS: (performance.now() - started) / 1000 });
    process.stdout.write(out.text);
    await writeJson(flags.json, { ...out.summary, phases: results });
  } finally {
    await broker?.close().catch(() => {});
    await env?.destroy();
    guard.done();
  }
}

function report(r: {
  rawV: { create: PhaseResult; drop: PhaseResult };
  rawP: { create: PhaseResult; drop: PhaseResult };
  rawV2: { create: PhaseResult; drop: PhaseResult };
  stintCreate: PhaseResult;
  stintRevoke: PhaseResult;
  brokerProblems: { warnings: number; errors: number; firstProblem: string | null };
  wallS: number;
}) {
  const m = machineInfo();
  // The raw baseline is the mean of the two verifier runs (before and after Stint), to damp drift.
  const rawCreateRate = (r.rawV.create.rate + r.rawV2.create.rate) / 2;
  const rawCreateP50 = (r.rawV.create.latency.p50 + r.rawV2.create.latency.p50) / 2;
  const rawCreateP99 = (r.rawV.create.latency.p99 + r.rawV2.create.latency.p99) / 2;
  const rawDropRate = (r.rawV.drop.rate + r.rawV2.drop.rate) / 2;
  const rawDropP50 = (r.rawV.drop.latency.p50 + r.rawV2.drop.latency.p50) / 2;
  const rawDropP99 = (r.rawV.drop.latency.p99 + r.rawV2.drop.latency.p99) / 2;
  const row = (p: PhaseResult) => [p.name, `${p.ok}${p.errors ? ` (+${p.errors} err)` : ''}`, fmt(p.rate), fmt(p.latency.p50), fmt(p.latency.p90), fmt(p.latency.p99), fmt(p.latency.max)];
  const lines: string[] = [];
  lines.push('');
  lines.push(`== Stint issue/revoke rate vs raw PostgreSQL (N=${N}, concurrency ${C}, store ${storeKind})`);
  lines.push(`machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memGiB} GiB, ${m.os}, node ${m.node}`);
  lines.push(`command: ${commandLine()}`);
  lines.push('');
  lines.push(table([
    ['operation', 'ok', 'ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    row(r.rawV.create), row(r.rawP.create), row(r.stintCreate), row(r.rawV2.create),
    row(r.rawV.drop), row(r.rawP.drop), row(r.stintRevoke), row(r.rawV2.drop),
  ]));
  lines.push('');
  lines.push(table([
    ['Stint vs raw (raw = mean of the two SCRAM-verifier runs)', 'raw', 'Stint', 'Stint - raw', 'Stint cost'],
    ['issue rate, ops/s', fmt(rawCreateRate), fmt(r.stintCreate.rate), fmt(r.stintCreate.rate - rawCreateRate), ratio(rawCreateRate, r.stintCreate.rate)],
    ['issue latency p50, ms', fmt(rawCreateP50), fmt(r.stintCreate.latency.p50), fmt(r.stintCreate.latency.p50 - rawCreateP50), ratio(r.stintCreate.latency.p50, rawCreateP50).replace('x', 'x slower')],
    ['issue latency p99, ms', fmt(rawCreateP99), fmt(r.stintCreate.latency.p99), fmt(r.stintCreate.latency.p99 - rawCreateP99), ratio(r.stintCreate.latency.p99, rawCreateP99).replace('x', 'x slower')],
    ['revoke rate, ops/s', fmt(rawDropRate), fmt(r.stintRevoke.rate), fmt(r.stintRevoke.rate - rawDropRate), ratio(rawDropRate, r.stintRevoke.rate)],
    ['revoke latency p50, ms', fmt(rawDropP50), fmt(r.stintRevoke.latency.p50), fmt(r.stintRevoke.latency.p50 - rawDropP50), ratio(r.stintRevoke.latency.p50, rawDropP50).replace('x', 'x slower')],
    ['revoke latency p99, ms', fmt(rawDropP99), fmt(r.stintRevoke.latency.p99), fmt(r.stintRevoke.latency.p99 - rawDropP99), ratio(r.stintRevoke.latency.p99, rawDropP99).replace('x', 'x slower')],
  ]));
  lines.push('');
  lines.push(`broker-added issue latency (difference of medians): ${fmt(r.stintCreate.latency.p50 - rawCreateP50)} ms; at p99: ${fmt(r.stintCreate.latency.p99 - rawCreateP99)} ms`);
  lines.push(`broker-added revoke latency (difference of medians): ${fmt(r.stintRevoke.latency.p50 - rawDropP50)} ms; at p99: ${fmt(r.stintRevoke.latency.p99 - rawDropP99)} ms`);
  lines.push(`raw drift (verifier run 2 / run 1): create ${ratio(r.rawV2.create.rate, r.rawV.create.rate)}, drop ${ratio(r.rawV2.drop.rate, r.rawV.drop.rate)}`);
  lines.push(`broker log: ${r.brokerProblems.errors} error and ${r.brokerProblems.warnings} warning lines${r.brokerProblems.firstProblem ? ` (first: ${r.brokerProblems.firstProblem})` : ''}`);
  const failed = [r.rawV.create, r.rawP.create, r.stintCreate, r.stintRevoke, r.rawV.drop].filter((p) => p.errors > 0);
  for (const p of failed) lines.push(`errors in "${p.name}": ${p.errors}, first: ${p.firstError}`);
  lines.push('notes: raw ops use separate round trips (BEGIN, CREATE, GRANT, COMMIT); Stint latency is client-side over keep-alive HTTP in the same');
  lines.push('       process, and includes the request + approval + grant intent + audit writes, SCRAM hashing, the advisory lock, and the');
  lines.push('       activation write; its revoke also ends sessions and runs REASSIGN/DROP OWNED. Embedded PostgreSQL runs with fsync=off.');
  lines.push(`wall time: ${fmt(r.wallS, 0)} s`);
  lines.push('');
  const summary = {
    bench: 'issue-rate', n: N, concurrency: C, store: storeKind, machine: m, command: commandLine(),
    raw: { createRate: rawCreateRate, createP50: rawCreateP50, createP99: rawCreateP99, plainCreateRate: r.rawP.create.rate, plainCreateP50: r.rawP.create.latency.p50, dropRate: rawDropRate, dropP50: rawDropP50, dropP99: rawDropP99 },
    stint: { issueRate: r.stintCreate.rate, issueP50: r.stintCreate.latency.p50, issueP99: r.stintCreate.latency.p99, revokeRate: r.stintRevoke.rate, revokeP50: r.stintRevoke.latency.p50, revokeP99: r.stintRevoke.latency.p99, issueErrors: r.stintCreate.errors, revokeErrors: r.stintRevoke.errors },
    brokerLog: r.brokerProblems,
    wallS: r.wallS,
  };
  return { text: lines.join('\n') + '\n', summary };
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`issue-rate failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
