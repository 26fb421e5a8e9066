// Starts the real servers the test suite needs on loopback ports of its own
// choosing, prints their connection settings as `KEY=value` lines on stdout,
// then waits; on SIGTERM/SIGINT it stops them and deletes their data.

import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../src/embedded/postgres.js';

const started: { name: string; stop: () => Promise<void> }[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  for (const s of started.reverse()) {
    await s.stop().catch((e) => process.stderr.write(`stopping ${s.name}: ${String(e)}\n`));
  }
  process.exit(code);
}
process.on('SIGTERM', () => void stopAll(0));
process.on('SIGINT', () => void stopAll(0));

try {
  const pg: EmbeddedPostgresServer = await startEmbeddedPostgres();
  started.push({ name: 'postgres', stop: () => pg.destroy() });
  process.stdout.write(`STINT_TEST_PG_URL=${pg.url()}\n`);
  process.stdout.write('READY=1\n');
} catch (e) {
  process.stderr.write(`test servers failed to start: ${e instanceof Error ? e.stack : String(e)}\n`);
  await stopAll(1);
}
// Keep running until told to stop.
setInterval(() => {}, 1 << 30);
