// A broker in a process of its own, so its start time and memory are its own
// (used by bench/scale.ts). Reads BENCH_CHILD (JSON: configPath, dataDir,
// storeUrl), starts createApp + listen on 127.0.0.1:0, waits for the first
// GET /healthz 200, prints one JSON line to stdout, and closes when stdin ends.

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { createApp } from '../src/app.js';
import { createLogger } from '../src/log.js';

interface ChildSpec {
  configPath: string;
  dataDir: string;
  storeUrl?: string;
  masterKey: string;
}

async function main() {
  const spec = JSON.parse(process.env.BENCH_CHILD ?? '{}') as ChildSpec;
  const dest = pino.destination({ dest: join(spec.dataDir, `child-${process.pid}.log`), sync: false });
  const logger = createLogger({ level: 'info', destination: dest });
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const app = await createApp({ configPath: spec.configPath, dataDir: spec.dataDir, storeUrl: spec.storeUrl, env: { STINT_MASTER_KEY: spec.masterKey }, logger });
  const createdMs = performance.now() - t0;
  const url = await app.listen('127.0.0.1', 0);
  const listeningMs = performance.now() - t0;
  for (;;) {
    const res = await fetch(`${url}/healthz`).catch(() => null);
    if (res?.status === 200) {
      await res.text();
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const readyMs = performance.now() - t0;
  // Let the worker's first pass and any start-up work settle before measuring memory.
  await new Promise((r) => setTimeout(r, 500));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const mem = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({ url, createdMs, listeningMs, readyMs, rss: mem.rss, heapUsed: mem.heapUsed, rssBefore, gc: Boolean(gc), adminToken: app.initialAdminToken ?? null })}\n`,
  );
  process.stdin.resume();
  await new Promise<void>((r) => process.stdin.once('end', () => r()));
  await app.close();
  dest.flushSync();
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`broker-child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
