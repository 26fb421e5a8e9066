// CLI start-up: wall time of `stint --help` and of `stint grants --json`
// against a running broker, each compared with a bare `node -e 0` measured in
// the same run. The three commands take turns (the order rotating each
// round), so a change in the machine's load hits all three alike; medians over
// the rounds, and ratios to bare Node. Prints figures, asserts nothing, stops
// by itself.
//
//   node --import tsx bench/cli-startup.ts [--runs 40] [--json out.json]
//
// The CLI measured is bin/stint.js running dist/, rebuilt first (scripts/build.ts).
// The broker is the real `stint server` from dist/ (SQLite store, no targets,
// the initial admin token), on 127.0.0.1. CPU time (user + system) comes from
// /usr/bin/time when it is installed.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../src/embedded/free-port.js';
import { commandLine, fmt, guardProcess, intFlag, machineInfo, progress, ratio, sleep, stats, table, writeJson, type Stats } from './lib.js';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (flags.help) {
  process.stdout.write(`node --import tsx bench/cli-startup.ts [options]
  --runs N        rounds; each round runs node -e 0, stint --help and stint grants --json once (default 40)
  --json FILE     also write the figures as JSON
`);
  process.exit(0);
}

const runs = intFlag(flags.runs, 'runs', 40);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'stint.js');
const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

interface Sample {
  wallMs: number;
  cpuMs: number;
}

/** Runs one command to its end; wall time from spawn to exit, CPU time from /usr/bin/time. */
function timed(argv: string[], env: NodeJS.ProcessEnv, cpuFile: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = timeBin ? [timeBin, '-f', '%U %S', '-o', cpuFile, ...argv] : argv;
    const start = performance.now();
    const child = spawn(cmd!, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.once('error', reject);
    child.once('exit', async (code) => {
      const wallMs = performance.now() - start;
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited with ${code}: ${stderr.slice(-500)}`));
      let cpuMs = Number.NaN;
      if (timeBin) {
        const [user, sys] = (await readFile(cpuFile, 'utf8')).trim().split(/\s+/).slice(-2).map(Number);
        cpuMs = ((user ?? Number.NaN) + (sys ?? Number.NaN)) * 1000;
      }
      resolve({ wallMs, cpuMs });
    });
  });
}

async function startBroker(dir: string): Promise<{ url: string; token: string; proc: ChildProcess }> {
  const config = join(dir, 'stint.yaml');
  await writeFile(config, 'targets: []\nprofiles: []\npolicies: []\nusers:\n  - { name: alice, groups: [dev] }\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [bin, 'server', '--config', config, '--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`], {
    env: { PATH: process.env.PATH, STINT_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), STINT_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-4000)));
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`broker exited during start: ${stderr}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`broker did not answer /healthz in 300 s: ${stderr}`);
    await sleep(100);
  }
  return { url, token: (await readFile(join(dir, 'data', 'admin.token'), 'utf8')).trim(), proc };
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'stint-bench-cli-'));
  let broker: ChildProcess | undefined;
  const cleanup = async () => {
    if (broker && broker.exitCode === null) {
      const exited = new Promise((r) => broker!.once('exit', r));
      broker.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const guard = guardProcess(cleanup, 20 * 60_000);
  try {
    progress('== building dist/ (scripts/build.ts)');
    await new Promise<void>((resolve, reject) => {
      const b = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'build.ts')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
      b.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build exited with ${code}`))));
    });
    progress('== starting the broker (stint server, SQLite)');
    const b = await startBroker(dir);
    broker = b.proc;
    const env = { PATH: process.env.PATH, HOME: dir, STINT_SERVER: b.url, STINT_TOKEN: b.token };
    const commands: Array<{ name: string; argv: string[] }> = [
      { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
      { name: 'stint --help', argv: [process.execPath, bin, '--help'] },
      { name: 'stint grants --json (broker on 127.0.0.1)', argv: [process.execPath, bin, 'grants', '--json'] },
    ];
    const samples = commands.map(() => [] as Sample[]);
    const cpuFile = join(dir, 'cpu.txt');
    // Three warm-up rounds (disk cache, the broker's first requests) are not counted.
    const warmup = 3;
    progress(`== ${runs} rounds of ${commands.length} commands (after ${warmup} warm-up rounds)`);
    for (let round = 0; round < warmup + runs; round++) {
      for (let k = 0; k < commands.length; k++) {
        const i = (round + k) % commands.length;
        const s = await timed(commands[i]!.argv, env, cpuFile);
        if (round >= warmup) samples[i]!.push(s);
      }
    }
    const wall = samples.map((s) => stats(s.map((x) => x.wallMs)));
    const cpu = samples.map((s) => stats(s.map((x) => x.cpuMs)));
    const base = wall[0]!.p50;
    const baseCpu = cpu[0]!.p50;
    const m = machineInfo();
    const rows: (string | number)[][] = [['command', 'wall p50 ms', 'wall p90 ms', 'wall p50 vs node -e 0', 'cpu p50 ms', 'cpu p50 vs node -e 0']];
    commands.forEach((c, i) =>
      rows.push([c.name, fmt(wall[i]!.p50, 0), fmt(wall[i]!.p90, 0), ratio(wall[i]!.p50, base), fmt(cpu[i]!.p50, 0), ratio(cpu[i]!.p50, baseCpu)]),
    );
    process.stdout.write(
      `\nCLI start-up, ${runs} rounds, ${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}; goal: within 1.50x of node -e 0 (wall, median)\n\n${table(rows)}\n`,
    );
    const result = {
      runs,
      machine: m,
      command: commandLine(),
      commands: commands.map((c, i) => ({
        name: c.name,
        wall: wall[i] as Stats,
        cpu: cpu[i] as Stats,
        wallRatio: wall[i]!.p50 / base,
        cpuRatio: cpu[i]!.p50 / baseCpu,
      })),
    };
    await writeJson(flags.json, result);
  } finally {
    try {
      await cleanup();
    } finally {
      guard.done();
    }
  }
}

main().catch((err) => {
  process.stderr.write(`bench/cli-startup.ts failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
