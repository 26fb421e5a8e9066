// Every file the broker writes in its data directory is its owner's only
// (0600) and every directory 0700, whatever the umask: a broker started on a
// fresh data directory under umask 000 does work that creates each kind of
// file (SQLite store with its -wal/-shm, master key, admin token, SSH host
// key, a gateway session log, a terminal recording), then the directory is
// walked.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { freePort } from '../embedded/free-port.js';
import { openAsciicast } from '../gateways/ssh/asciicast.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { createSqliteStore } from './sqlite/sqlite-store.js';

/** Written by the test harness (startTestBroker), not by the broker. */
const harnessFiles = new Set(['stint.yaml', 'pg-admin.secret']);

async function walk(dir: string, out: Array<{ path: string; dir: boolean; mode: number }> = []) {
  out.push({ path: dir, dir: true, mode: (await stat(dir)).mode & 0o777 });
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (!harnessFiles.has(e.name)) out.push({ path: p, dir: false, mode: (await stat(p)).mode & 0o777 });
  }
  return out;
}

const until = async (what: string, check: () => Promise<boolean>) => {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('data directory file modes', () => {
  let target: TestTarget;
  let base: string;
  let broker: TestBroker | undefined;
  let umask: number;

  before(async () => {
    target = await createTestTarget();
    base = await mkdtemp(join(tmpdir(), 'stint-modes-'));
  });
  after(async () => {
    process.umask(umask);
    await broker?.close();
    await rm(base, { recursive: true, force: true });
    await target?.drop();
  });

  it('a broker on a fresh data dir under umask 000 writes only 0600 files and 0700 directories', async () => {
    const dataDir = join(base, 'data');
    // The harness writes its config into the data dir, so it makes the dir; everything inside is the broker's.
    await mkdir(dataDir, { mode: 0o700 });
    const pgPort = await freePort();
    const sshPort = await freePort();
    umask = process.umask(0);
    broker = await startTestBroker({
      target,
      dataDir,
      env: {}, // no STINT_MASTER_KEY: the broker writes DATA_DIR/master.key
      editConfig: (t) => `gateways:\n  postgres: { listen: "127.0.0.1:${pgPort}", requireTls: false }\n  ssh: { listen: "127.0.0.1:${sshPort}" }\n${t}`,
    });
    await broker.app.listen('127.0.0.1', 0);
    const alice = await broker.token('alice');
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' });
    assert.equal(r.status, 201, r.raw);
    // A session through the PostgreSQL gateway writes its log under DATA_DIR/sessions.
    const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'alice', database: 'pg-read', password: alice, ssl: false });
    await c.connect();
    await c.query('SELECT 1');
    await c.end();
    await until('the session log', async () => (await readdir(join(dataDir, 'sessions')).catch(() => [])).some((f) => f.endsWith('.jsonl')));
    // An SSH terminal recording, written by the gateway's own writer (a real SSH session needs an SSH target).
    const cast = openAsciicast(join(dataDir, 'sessions', 'ses_modesmodes01-0.cast'), { width: 80, height: 24 });
    cast.output('$ id\r\n');
    await cast.close();

    const entries = await walk(dataDir);
    const names = entries.map((e) => e.path.slice(dataDir.length + 1));
    for (const expected of ['stint.db', 'stint.db-wal', 'stint.db-shm', 'master.key', 'admin.token', 'ssh_host_ed25519_key', 'sessions']) {
      assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
    }
    assert.ok(
      names.some((n) => /^sessions\/ses_[a-z0-9]{12}\.jsonl$/.test(n)),
      names.join(', '),
    );
    assert.ok(names.includes('sessions/ses_modesmodes01-0.cast'));
    const wrong = entries.filter((e) => e.mode !== (e.dir ? 0o700 : 0o600)).map((e) => `${e.path} ${e.mode.toString(8)}`);
    assert.deepEqual(wrong, []);
  });

  it('an existing store file (and its -wal and -shm) with a wider mode is made 0600 when opened', async () => {
    process.umask(0o022);
    const path = join(base, 'old.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x)');
    await writeFile(`${path}-shm`, '', { flag: 'a' });
    const widened = [path, `${path}-wal`, `${path}-shm`];
    for (const f of widened) assert.equal((await stat(f)).mode & 0o777, 0o644, f);
    const store = createSqliteStore({ path });
    try {
      for (const f of widened) assert.equal((await stat(f)).mode & 0o777, 0o600, f);
    } finally {
      await store.close();
      db.close();
    }
  });
});
