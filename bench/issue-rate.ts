// Issue and revoke rate: Stint end to end over HTTP versus the same work done
// raw on the target, measured in the same run at the same concurrency (ratios,
// because the machine is noisy). Prints figures; asserts nothing.
//
//   node --import tsx bench/issue-rate.ts [--n 2000] [--concurrency 8] [--rounds 8] [--store sqlite|postgres] [--json out.json]
//
// Every kind of operation runs N times at concurrency C, split into R rounds;
// a round runs a slice of each kind back to back, alternating which of raw and
// Stint goes first, so drift in the machine's load hits both alike and the
// server's catalogue is the same size for both:
//
//   raw create   BEGIN; CREATE ROLE x LOGIN PASSWORD '<SCRAM verifier>' VALID UNTIL … IN ROLE marker;
//                GRANT app_read TO x; COMMIT — as the CREATEROLE admin through a pg.Pool of size C,
//                verifier computed client-side in the timed operation, as Stint does
//   Stint issue  POST /v1/requests, auto-approved ephemeral account, over keep-alive HTTP
//   raw drop     DROP ROLE x
//   Stint revoke POST /v1/grants/:id/revoke (check-in)
//   and, for reference, raw create with a plaintext password (the server computes SCRAM),
//   and Stint's PostgreSQL connector called directly (createAccount / removeAccount, no broker).
//
// The broker runs in a child process (bench/broker-child.ts): its CPU and event
// loop are its own, and the client here uses node:http (fetch costs several
// times more CPU per request, which on 2 cores would be charged to Stint). The
// child also times each request inside the broker, excluding the target calls
// it made: that is the "broker-added latency".

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createPostgresConnector } from '../src/connectors/postgres/module.js';
import { scramSha256Verifier } from '../src/connectors/postgres/scram.js';
import {
  addCpu,
  commandLine,
  dropRoleSql,
  fmt,
  httpClient,
  inTx,
  intFlag,
  machineInfo,
  progress,
  ratio,
  rawCreateStatements,
  rawSecret,
  runLoop,
  startCpuMeter,
  stats,
  storeFlag,
  table,
  withBenchEnv,
  writeJson,
  type CpuSpent,
  type LoopResult,
  type Stats,
} from './lib.js';

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
    rounds: { type: 'string' },
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
  --n N               operations of each kind (default 2000)
  --concurrency C     in-flight operations, and raw pool size (default 8)
  --rounds R          rounds the N operations are split into, alternating raw/Stint order (default 8)
  --warmup W          unmeasured operations of each kind first (default 100)
  --store KIND        broker store: sqlite (default) or postgres (a second database on the same server)
  --json FILE         also write the results as JSON
  --time-limit S      hard stop after S seconds, cleaning up (default 1800)
`);
  process.exit(0);
}

const N = intFlag(flags.n, 'n', 2000);
const C = intFlag(flags.concurrency, 'concurrency', 8);
const R = Math.min(N, intFlag(flags.rounds, 'rounds', 8));
const W = intFlag(flags.warmup, 'warmup', 100, 0);
const storeKind = storeFlag(flags.store);
const limitMs = intFlag(flags['time-limit'], 'time-limit', 1800) * 1000;

/** The broker child's `load` answer: event loop utilization (0-1), CPU in cores, over ms. */
interface Load {
  eventLoop: number;
  cores: number;
  ms: number;
}

type Kind = 'rawCreate' | 'stintIssue' | 'rawDrop' | 'stintRevoke' | 'rawPlainCreate' | 'rawPlainDrop' | 'connCreate' | 'connRemove';

const labels: Record<Kind, string> = {
  rawCreate: 'raw CREATE ROLE+GRANT (SCRAM verifier)',
  stintIssue: 'Stint POST /v1/requests (auto-approved, ephemeral)',
  rawDrop: 'raw DROP ROLE',
  stintRevoke: 'Stint POST /v1/grants/:id/revoke',
  rawPlainCreate: 'raw CREATE ROLE+GRANT (plaintext password)',
  rawPlainDrop: 'raw DROP ROLE (plaintext roles)',
  connCreate: 'connector createAccount, no broker',
  connRemove: 'connector removeAccount, no broker',
};

interface Acc {
  ok: number;
  errors: number;
  firstError: string | null;
  wallMs: number;
  latencies: number[];
  perRound: number[];
}

export interface PhaseResult {
  name: string;
  ok: number;
  errors: number;
  firstError: string | null;
  rate: number;
  wallMs: number;
  latency: Stats;
  roundRates: number[];
}

async function main() {
  const started = performance.now();
  await withBenchEnv(storeKind, limitMs, async (env, startBroker) => {
    const t = env.target;
    const validUntil = () => new Date(Date.now() + 3_600_000);
    const pool = await env.adminPool(C);
    // Stint's connector on its own, against roles under the raw marker (which it then treats as its own).
    const conn = createPostgresConnector({
      target: 'bench',
      settings: { host: t.host, port: t.port, database: t.database, markerRole: t.rawMarker, maxConnections: C },
      adminUser: t.adminUser,
      adminSecret: t.adminPassword,
    });

    progress('starting the broker in a child process');
    const home = await env.newBrokerHome('issue', { revokeConcurrency: C });
    const b = await startBroker(home);
    const client = httpClient(b.ready.url, C);
    const tok = await client.request('POST', '/v1/tokens', b.adminToken, { user: 'alice' });
    if (tok.status !== 201) throw new Error(`could not issue a token for alice: ${tok.status} ${JSON.stringify(tok.body)}`);
    const alice = (tok.body as { secret: string }).secret;

    const names = (prefix: string, from: number, n: number) => Array.from({ length: n }, (_, i) => `${prefix}_${from + i}`);
    const ops = {
      rawCreate: (ns: string[]) => async (i: number) => {
        const password = await scramSha256Verifier(rawSecret());
        await inTx(pool, rawCreateStatements(t, ns[i]!, password, validUntil()));
      },
      rawPlainCreate: (ns: string[]) => async (i: number) => {
        await inTx(pool, rawCreateStatements(t, ns[i]!, rawSecret(), validUntil()));
      },
      rawDrop: (ns: string[]) => async (i: number) => {
        await pool.query(dropRoleSql(ns[i]!));
      },
      connCreate: (ns: string[]) => async (i: number) => {
        await conn.createAccount({ account: ns[i]!, secret: rawSecret(), grants: [t.readRole], expiresAt: validUntil() });
      },
      connRemove: (ns: string[]) => async (i: number) => {
        const r = await conn.removeAccount({ account: ns[i]! });
        if (!r.existed) throw new Error(`${ns[i]} was not there to remove`);
      },
      stintIssue: (into: string[]) => async (i: number) => {
        const r = await client.request('POST', '/v1/requests', alice, { profile: 'pg-read', duration: '1h', reason: 'bench' });
        if (r.status !== 201 || r.body?.grant?.status !== 'active') throw new Error(`request: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        into[i] = r.body.grant.id as string;
      },
      stintRevoke: (ids: string[]) => async (i: number) => {
        const r = await client.request('POST', `/v1/grants/${ids[i]}/revoke`, alice);
        if (r.status !== 200 || r.body?.grant?.status !== 'revoked') throw new Error(`revoke: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      },
    };

    if (W > 0) {
      progress(`warm-up: ${W} of each`);
      const ns = names('warm', 0, W);
      await runLoop(W, C, ops.rawCreate(ns));
      await runLoop(W, C, ops.rawDrop(ns));
      await runLoop(W, C, ops.connCreate(ns));
      await runLoop(W, C, ops.connRemove(ns));
      const ids: string[] = [];
      await runLoop(W, C, ops.stintIssue(ids));
      await runLoop(W, C, ops.stintRevoke(ids.filter(Boolean)));
      await b.call('timings', { reset: true });
    }

    const acc = new Map<Kind, Acc>();
    const record = (kind: Kind, r: LoopResult) => {
      let a = acc.get(kind);
      if (!a) acc.set(kind, (a = { ok: 0, errors: 0, firstError: null, wallMs: 0, latencies: [], perRound: [] }));
      a.ok += r.ok;
      a.errors += r.errors;
      a.firstError ??= r.firstError;
      a.wallMs += r.wallMs;
      a.latencies.push(...r.latencies);
      a.perRound.push(r.rate);
    };
    const brokerLoad = { issue: [] as Load[], revoke: [] as Load[] };
    // Where the machine's CPU went in each kind's stretches (/proc; Linux).
    const cpu = new Map<Kind, CpuSpent | null>();
    const metered = async (kind: Kind, n: number, fn: (i: number) => Promise<void>) => {
      const stop = startCpuMeter(b.ready.pid);
      const r = await runLoop(n, C, fn);
      cpu.set(kind, addCpu(cpu.get(kind) ?? null, stop()));
      record(kind, r);
    };
    const inBroker = {
      issue: { total: [] as number[], target: [] as number[], added: [] as number[] },
      revoke: { total: [] as number[], target: [] as number[], added: [] as number[] },
    };
    const collect = async (into: typeof inBroker.issue, route: string) => {
      const tm = (await b.call('timings', { reset: true })) as Record<string, { total: number[]; target: number[]; added: number[] }>;
      const r = tm[route];
      if (!r) return;
      into.total.push(...r.total);
      into.target.push(...r.target);
      into.added.push(...r.added);
    };

    let done = 0;
    for (let round = 0; round < R; round++) {
      const n = Math.floor(((round + 1) * N) / R) - Math.floor((round * N) / R);
      const from = done;
      done += n;
      const rawFirst = round % 2 === 0;
      progress(`round ${round + 1}/${R}: ${n} of each (${rawFirst ? 'raw' : 'Stint'} first)`);
      const rawV = names('rawv', from, n);
      const ids: string[] = new Array<string>(n);
      const run = (kind: Kind, fn: (i: number) => Promise<void>) => metered(kind, n, fn);
      const rawCreate = () => run('rawCreate', ops.rawCreate(rawV));
      const stintIssue = async () => {
        await b.call('load', { reset: true });
        await run('stintIssue', ops.stintIssue(ids));
        brokerLoad.issue.push((await b.call('load', { reset: true })) as Load);
        await collect(inBroker.issue, 'POST /v1/requests');
      };
      const rawDrop = () => run('rawDrop', ops.rawDrop(rawV));
      const stintRevoke = async () => {
        const live = ids.filter(Boolean);
        await b.call('load', { reset: true });
        await metered('stintRevoke', live.length, ops.stintRevoke(live));
        brokerLoad.revoke.push((await b.call('load', { reset: true })) as Load);
        await collect(inBroker.revoke, 'POST /v1/grants/:id/revoke');
      };
      if (rawFirst) {
        await rawCreate();
        await stintIssue();
        await rawDrop();
        await stintRevoke();
      } else {
        await stintIssue();
        await rawCreate();
        await stintRevoke();
        await rawDrop();
      }
      const rawP = names('rawp', from, n);
      await run('rawPlainCreate', ops.rawPlainCreate(rawP));
      await run('rawPlainDrop', ops.rawDrop(rawP));
      const direct = names('conn', from, n);
      await run('connCreate', ops.connCreate(direct));
      await run('connRemove', ops.connRemove(direct));
    }
    client.close();
    await conn.close();
    const brokerProblems = await b.close();

    const phases = new Map<Kind, PhaseResult>();
    for (const [kind, a] of acc) {
      phases.set(kind, {
        name: labels[kind],
        ok: a.ok,
        errors: a.errors,
        firstError: a.firstError,
        wallMs: a.wallMs,
        rate: (a.ok / a.wallMs) * 1000,
        latency: stats(a.latencies),
        roundRates: a.perRound,
      });
    }
    const out = report(phases, inBroker, brokerLoad, cpu, brokerProblems, (performance.now() - started) / 1000);
    process.stdout.write(out.text);
    await writeJson(flags.json, out.summary);
  });
}

const median = (xs: number[]) => stats(xs).p50;

function report(
  phases: Map<Kind, PhaseResult>,
  inBroker: Record<'issue' | 'revoke', { total: number[]; target: number[]; added: number[] }>,
  brokerLoad: Record<'issue' | 'revoke', Load[]>,
  cpu: Map<Kind, CpuSpent | null>,
  brokerProblems: { warnings: number; errors: number; firstProblem: string | null },
  wallS: number,
) {
  const m = machineInfo();
  const p = (k: Kind) => phases.get(k)!;
  const roundRatios = (a: Kind, b: Kind) => p(a).roundRates.map((x, i) => x / p(b).roundRates[i]!);
  const issueRatio = p('stintIssue').rate / p('rawCreate').rate;
  const revokeRatio = p('stintRevoke').rate / p('rawDrop').rate;
  const issueRound = roundRatios('stintIssue', 'rawCreate');
  const revokeRound = roundRatios('stintRevoke', 'rawDrop');
  const added = { issue: stats(inBroker.issue.added), revoke: stats(inBroker.revoke.added) };
  const target = { issue: stats(inBroker.issue.target), revoke: stats(inBroker.revoke.target) };
  const total = { issue: stats(inBroker.issue.total), revoke: stats(inBroker.revoke.total) };
  const row = (k: Kind) => {
    const x = p(k);
    return [
      x.name,
      `${x.ok}${x.errors ? ` (+${x.errors} err)` : ''}`,
      fmt(x.rate),
      fmt(x.latency.p50),
      fmt(x.latency.p90),
      fmt(x.latency.p99),
      fmt(x.latency.max),
    ];
  };
  const L: string[] = [''];
  L.push(`== Stint issue/revoke rate vs raw PostgreSQL (N=${N} of each, concurrency ${C}, ${R} rounds, store ${storeKind})`);
  L.push(`machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memGiB} GiB, ${m.os}, node ${m.node}`);
  L.push(`command: ${commandLine()}`);
  L.push('');
  L.push(
    table([
      ['operation (client-side latency)', 'ok', 'ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      row('rawCreate'),
      row('stintIssue'),
      row('rawPlainCreate'),
      row('connCreate'),
      row('rawDrop'),
      row('stintRevoke'),
      row('rawPlainDrop'),
      row('connRemove'),
    ]),
  );
  L.push('');
  L.push(
    table([
      ['Stint / raw', 'overall', 'per round: median', 'min', 'max'],
      [
        'issue rate / raw CREATE ROLE+GRANT (verifier)',
        ratio(p('stintIssue').rate, p('rawCreate').rate),
        fmt(median(issueRound), 2) + 'x',
        fmt(Math.min(...issueRound), 2) + 'x',
        fmt(Math.max(...issueRound), 2) + 'x',
      ],
      ['issue rate / raw CREATE ROLE+GRANT (plaintext)', ratio(p('stintIssue').rate, p('rawPlainCreate').rate), '', '', ''],
      [
        'revoke rate / raw DROP ROLE',
        ratio(p('stintRevoke').rate, p('rawDrop').rate),
        fmt(median(revokeRound), 2) + 'x',
        fmt(Math.min(...revokeRound), 2) + 'x',
        fmt(Math.max(...revokeRound), 2) + 'x',
      ],
      ['connector removeAccount alone / raw DROP ROLE', ratio(p('connRemove').rate, p('rawDrop').rate), '', '', ''],
    ]),
  );
  L.push('');
  L.push(
    table([
      ['inside the broker, per request, ms', 'p50', 'p90', 'p99', 'max', 'mean'],
      [
        'issue: total (onRequest → onResponse)',
        fmt(total.issue.p50, 2),
        fmt(total.issue.p90, 2),
        fmt(total.issue.p99, 2),
        fmt(total.issue.max, 2),
        fmt(total.issue.mean, 2),
      ],
      [
        'issue: target call (createAccount)',
        fmt(target.issue.p50, 2),
        fmt(target.issue.p90, 2),
        fmt(target.issue.p99, 2),
        fmt(target.issue.max, 2),
        fmt(target.issue.mean, 2),
      ],
      [
        'issue: broker-added (total - target)',
        fmt(added.issue.p50, 2),
        fmt(added.issue.p90, 2),
        fmt(added.issue.p99, 2),
        fmt(added.issue.max, 2),
        fmt(added.issue.mean, 2),
      ],
      ['revoke: total', fmt(total.revoke.p50, 2), fmt(total.revoke.p90, 2), fmt(total.revoke.p99, 2), fmt(total.revoke.max, 2), fmt(total.revoke.mean, 2)],
      [
        'revoke: target call (removeAccount)',
        fmt(target.revoke.p50, 2),
        fmt(target.revoke.p90, 2),
        fmt(target.revoke.p99, 2),
        fmt(target.revoke.max, 2),
        fmt(target.revoke.mean, 2),
      ],
      [
        'revoke: broker-added (total - target)',
        fmt(added.revoke.p50, 2),
        fmt(added.revoke.p90, 2),
        fmt(added.revoke.p99, 2),
        fmt(added.revoke.max, 2),
        fmt(added.revoke.mean, 2),
      ],
    ]),
  );
  // Weighted by each slice's length: the broker's own load while Stint's operations ran.
  const loadOf = (xs: Load[]) => {
    const ms = xs.reduce((a, x) => a + x.ms, 0) || 1;
    return { eventLoop: xs.reduce((a, x) => a + x.eventLoop * x.ms, 0) / ms, cores: xs.reduce((a, x) => a + x.cores * x.ms, 0) / ms };
  };
  const load = { issue: loadOf(brokerLoad.issue), revoke: loadOf(brokerLoad.revoke) };
  const perOp = (k: Kind, cores: number) => (cores / p(k).rate) * 1000;
  L.push(
    `broker process while Stint ran: issue — event loop busy ${fmt(load.issue.eventLoop * 100, 0)}%, CPU ${fmt(load.issue.cores, 2)} cores ` +
      `(${fmt(perOp('stintIssue', load.issue.cores), 2)} ms per request); revoke — ${fmt(load.revoke.eventLoop * 100, 0)}%, ` +
      `${fmt(load.revoke.cores, 2)} cores (${fmt(perOp('stintRevoke', load.revoke.cores), 2)} ms per request)`,
  );
  L.push('');
  // Per operation: the whole machine's CPU, split into the load generator (this process), the
  // broker child, and the rest (PostgreSQL's backends, the kernel, anything else running).
  const cpuRows: Kind[] = ['rawCreate', 'stintIssue', 'connCreate', 'rawDrop', 'stintRevoke', 'connRemove'];
  const cpuPerOp = Object.fromEntries(
    cpuRows.flatMap((k) => {
      const c = cpu.get(k);
      const ok = p(k).ok;
      if (!c || ok === 0) return [];
      const per = (ms: number) => ms / ok;
      return [
        [
          k,
          {
            machineBusy: c.machineBusyMs / Math.max(1, c.machineCapacityMs),
            machine: per(c.machineBusyMs),
            loadGenerator: per(c.benchMs),
            broker: k.startsWith('stint') ? per(c.brokerMs) : 0,
            brokerMain: k.startsWith('stint') ? per(c.brokerMainMs) : 0,
            brokerMainWait: k.startsWith('stint') ? per(c.brokerMainWaitMs) : 0,
            rest: per(c.machineBusyMs - c.benchMs - (k.startsWith('stint') ? c.brokerMs : 0)),
          },
        ],
      ];
    }),
  ) as Record<Kind, { machineBusy: number; machine: number; loadGenerator: number; broker: number; brokerMain: number; brokerMainWait: number; rest: number }>;
  if (Object.keys(cpuPerOp).length > 0) {
    L.push(
      table([
        [
          'CPU per operation, ms (all cores)',
          'machine busy',
          'machine',
          'load generator',
          'broker',
          'its event loop: on a core / waiting for one',
          'PostgreSQL + rest',
        ],
        ...cpuRows
          .filter((k) => cpuPerOp[k])
          .map((k) => {
            const c = cpuPerOp[k];
            return [
              p(k).name,
              `${fmt(c.machineBusy * 100, 0)}%`,
              fmt(c.machine, 2),
              fmt(c.loadGenerator, 2),
              k.startsWith('stint') ? fmt(c.broker, 2) : '-',
              k.startsWith('stint') ? `${fmt(c.brokerMain, 2)} / ${fmt(c.brokerMainWait, 2)}` : '-',
              fmt(c.rest, 2),
            ];
          }),
      ]),
    );
    L.push('');
  }
  L.push(
    `broker log: ${brokerProblems.errors} error and ${brokerProblems.warnings} warning lines${brokerProblems.firstProblem ? ` (first: ${brokerProblems.firstProblem})` : ''}`,
  );
  for (const x of phases.values()) if (x.errors) L.push(`errors in "${x.name}": ${x.errors}, first: ${x.firstError}`);
  L.push('notes: raw ops run as separate round trips (BEGIN, CREATE, GRANT, COMMIT) on a pool of C connections; Stint runs in its own');
  L.push('       process, reached over keep-alive HTTP (node:http, C connections) and includes auth, the request + approval + grant intent');
  L.push('       and their audit events, SCRAM hashing, the target call and the activation with its audit event. Its revoke records the');
  L.push('       intent, reads the role under an advisory lock, drops it and ends its sessions, and records the outcome; the raw baseline');
  L.push('       is a bare DROP ROLE. "connector … no broker" is Stint\'s PostgreSQL connector called directly: the target-side part.');
  L.push("       Client and broker share the machine's cores with PostgreSQL. Embedded PostgreSQL runs with fsync=off.");
  L.push('       CPU per operation is read from /proc over each kind\'s stretches: "load generator" is this process (HTTP or pg');
  L.push('       client, and the raw SCRAM hashing), "broker" the broker child\'s threads, its event loop\'s time on a core and');
  L.push('       waiting in the run queue (schedstat), and "PostgreSQL + rest" whatever else was busy.');
  L.push(`wall time: ${fmt(wallS, 0)} s`);
  L.push('');
  const summary = {
    bench: 'issue-rate',
    n: N,
    concurrency: C,
    rounds: R,
    store: storeKind,
    machine: m,
    command: commandLine(),
    ratios: {
      issue: issueRatio,
      issuePerRound: issueRound,
      issueVsPlain: p('stintIssue').rate / p('rawPlainCreate').rate,
      revoke: revokeRatio,
      revokePerRound: revokeRound,
    },
    raw: {
      createRate: p('rawCreate').rate,
      createP50: p('rawCreate').latency.p50,
      createP99: p('rawCreate').latency.p99,
      plainCreateRate: p('rawPlainCreate').rate,
      dropRate: p('rawDrop').rate,
      dropP50: p('rawDrop').latency.p50,
      dropP99: p('rawDrop').latency.p99,
    },
    stint: {
      issueRate: p('stintIssue').rate,
      issueP50: p('stintIssue').latency.p50,
      issueP99: p('stintIssue').latency.p99,
      revokeRate: p('stintRevoke').rate,
      revokeP50: p('stintRevoke').latency.p50,
      revokeP99: p('stintRevoke').latency.p99,
      issueErrors: p('stintIssue').errors,
      revokeErrors: p('stintRevoke').errors,
    },
    connector: { createRate: p('connCreate').rate, removeRate: p('connRemove').rate },
    brokerAdded: { issue: added.issue, revoke: added.revoke },
    inBroker: { total, target },
    brokerLoad: load,
    cpuPerOp,
    phases: [...phases.values()],
    brokerLog: brokerProblems,
    wallS,
  };
  return { text: L.join('\n') + '\n', summary };
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`issue-rate failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
