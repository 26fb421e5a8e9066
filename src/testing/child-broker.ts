// A broker in a child process (the real `stint server` binary), for tests
// that kill it: crash points, kill -9, restart on the same data dir.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../embedded/free-port.js';
import { testConfigYaml, type ConfigOptions, type TestTarget } from './broker.js';

const binPath = fileURLToPath(new URL('../../bin/stint.js', import.meta.url));

export interface ChildBroker {
  url: string;
  proc: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code or signal when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  adminToken(): Promise<string>;
  stop(): Promise<void>;
}

export async function writeBrokerConfig(dataDir: string, target: TestTarget, config?: ConfigOptions): Promise<string> {
  const secretFile = join(dataDir, '..', `${target.suffix}-pg.secret`);
  await writeFile(secretFile, target.adminPassword, { mode: 0o600 });
  const configPath = join(dataDir, '..', `${target.suffix}-stint.yaml`);
  await writeFile(configPath, testConfigYaml(target, secretFile, config));
  return configPath;
}

export async function startChildBroker(opts: {
  configPath: string;
  dataDir: string;
  faults?: string;
  extraEnv?: Record<string, string>;
}): Promise<ChildBroker> {
  const port = await freePort();
  const proc = spawn(process.execPath, [binPath, 'server', '--config', opts.configPath, '--data-dir', opts.dataDir, '--listen', `127.0.0.1:${port}`], {
    env: {
      PATH: process.env.PATH,
      STINT_MASTER_KEY: Buffer.alloc(32, 5).toString('base64'),
      STINT_LOG_LEVEL: 'warn',
      ...(opts.faults ? { STINT_FAULTS: opts.faults } : {}),
      ...opts.extraEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  // Generous: on a loaded 2-core machine a cold start (tsx compiling the sources) takes a while.
  const deadline = Date.now() + 300_000;
  const giveUp = async (why: string): Promise<never> => {
    // A child left running would hold this test process open (its stderr pipe) and hang the suite.
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    throw new Error(`${why}: ${err}`);
  };
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`broker exited during start: ${err}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) await giveUp('broker did not become ready within 300 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    proc,
    exited,
    stderr: () => err,
    adminToken: async () => (await readFile(join(opts.dataDir, 'admin.token'), 'utf8')).trim(),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** JSON over HTTP with a bearer token; network errors come back as status 0. */
export async function http(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  } catch (err) {
    return { status: 0, body: { error: String(err) } };
  }
}
