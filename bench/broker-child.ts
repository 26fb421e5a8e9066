// A broker in a process of its own, so that its CPU, start time and memory are
// its own and the benchmark's HTTP client does not share its event loop.
// Started by bench/lib.ts startChildBroker (fork, with an IPC channel).
//
// Reads BENCH_CHILD (JSON: configPath, dataDir, storeUrl, masterKey,
// offsetClock), times createApp → listen → first GET /healthz 200, and sends
// { type: 'ready', … } with RSS after GC (when started with --expose-gc).
// Then answers commands from the parent ({ id, cmd, … } → { id, ok, value | error }):
//
//   counts               grants by status
//   offset { ms }        moves the broker's clock (offsetClock only) forward by ms
//   wake                 wakes the expiry worker
//   create { n, concurrency, durationMs }
//                        n auto-approved requests through the request service in
//                        process (every step but HTTP); returns ids and rate
//   adopt { accounts, user, expiresAt }
//                        active grants (profile pg-read on target pg) for accounts that already
//                        exist on the target, written straight into the store
//   live { user, limit } how many of the user's grants are not revoked yet (at most limit)
//   grants { ids }       id, status, expiresAt, revokedAt, revokeReason, attempts of those grants
//   load { reset }       event loop utilization and process CPU (cores) since the last reset
//   timings { reset }    inside-the-broker figures per route (see below), then reset
//   inflight { reset }   highest number of concurrent target calls seen, per target and kind
//   close                closes the broker and exits
//
// Inside-the-broker timing, for the "broker-added latency" figure: each HTTP
// request is timed from Fastify's onRequest to onResponse, and the time of the
// target call it made (createAccount/removeAccount on the connector, matched
// by the account named in the response) is subtracted. What is left is time
// the request spent in the broker itself: routing, auth, validation, store
// transactions, audit, logging, and waiting for the event loop or the store.
// (Not AsyncLocalStorage: on Node 20 it slows every promise in the process.)

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { createApp } from '../src/app.js';
import type { Connector } from '../src/connectors/contract.js';
import type { Clock } from '../src/core/ports.js';
import { createLogger, logDestination } from '../src/log.js';

interface ChildSpec {
  configPath: string;
  dataDir: string;
  storeUrl?: string;
  masterKey: string;
  offsetClock?: boolean;
  logLevel?: string;
}

const spec = JSON.parse(process.env.BENCH_CHILD ?? '{}') as ChildSpec;
// The parent may be gone (it ended the run): a failed send is not an error of ours, and we exit on disconnect.
const send = (m: unknown) => process.send!(m, undefined, undefined, () => {});

async function main() {
  // Written the way the broker writes its log in production (src/log.ts).
  const dest = logDestination(join(spec.dataDir, `child-${process.pid}.log`)) as ReturnType<typeof pino.destination>;
  const logger = createLogger({ level: spec.logLevel ?? 'info', destination: dest });
  let offsetMs = 0;
  const clock: Clock | undefined = spec.offsetClock ? { now: () => Date.now() + offsetMs } : undefined;
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const app = await createApp({
    configPath: spec.configPath,
    dataDir: spec.dataDir,
    storeUrl: spec.storeUrl,
    env: { STINT_MASTER_KEY: spec.masterKey },
    logger,
    clock,
  });
  const createdMs = performance.now() - t0;

  // ---- instrumentation (hooks must be added before listen)
  const timings = new Map<string, { total: number[]; target: number[]; added: number[] }>();
  const started = new WeakMap<object, number>();
  /** Target time of the last call per account (each grant has its own account). */
  const targetMsByAccount = new Map<string, number>();
  const accountOf = new WeakMap<object, string>();
  app.api.addHook('onRequest', (req, _reply, done) => {
    started.set(req, performance.now());
    done();
  });
  app.api.addHook('onSend', (req, _reply, payload, done) => {
    if (typeof payload === 'string') {
      const m = /"account":"([^"]+)"/.exec(payload);
      if (m) accountOf.set(req, m[1]!);
    }
    done(null, payload);
  });
  app.api.addHook('onResponse', (req, _reply, done) => {
    const s = started.get(req);
    if (s !== undefined) {
      const total = performance.now() - s;
      const account = accountOf.get(req);
      const target = account === undefined ? 0 : (targetMsByAccount.get(account) ?? 0);
      if (account !== undefined) targetMsByAccount.delete(account);
      const key = `${req.method} ${req.routeOptions.url ?? req.url}`;
      let rec = timings.get(key);
      if (!rec) timings.set(key, (rec = { total: [], target: [], added: [] }));
      rec.total.push(total);
      rec.target.push(target);
      rec.added.push(total - target);
    }
    done();
  });
  const inflight = new Map<string, { now: number; max: number; calls: number }>();
  const wrapped = new Map<string, Connector>();
  const registry = app.connectors as { get(name: string): Connector };
  const realGet = registry.get.bind(registry);
  registry.get = (name: string) => {
    const real = realGet(name);
    let w = wrapped.get(name);
    if (!w || (w as unknown as { real: Connector }).real !== real) {
      const timed =
        <A extends [{ account: string }], R>(kind: string, fn: (...a: A) => Promise<R>) =>
        async (...a: A): Promise<R> => {
          const key = `${name} ${kind}`;
          let c = inflight.get(key);
          if (!c) inflight.set(key, (c = { now: 0, max: 0, calls: 0 }));
          c.now++;
          c.calls++;
          c.max = Math.max(c.max, c.now);
          const s = performance.now();
          try {
            return await fn(...a);
          } finally {
            c.now--;
            const account = a[0].account;
            targetMsByAccount.set(account, (targetMsByAccount.get(account) ?? 0) + performance.now() - s);
            // Calls made outside an HTTP request (the expiry worker) are not collected.
            if (targetMsByAccount.size > 10_000) targetMsByAccount.clear();
          }
        };
      w = Object.assign(Object.create(real) as Connector, {
        real,
        createAccount: timed('createAccount', real.createAccount.bind(real)),
        removeAccount: timed('removeAccount', real.removeAccount.bind(real)),
        grantToAccount: timed('grantToAccount', real.grantToAccount.bind(real)),
        revokeFromAccount: timed('revokeFromAccount', real.revokeFromAccount.bind(real)),
      });
      wrapped.set(name, w);
    }
    return w;
  };

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
  send({
    type: 'ready',
    url,
    createdMs,
    listeningMs,
    readyMs,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    rssBefore,
    gc: Boolean(gc),
    adminToken: app.initialAdminToken ?? null,
    pid: process.pid,
  });

  let loadMark = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage(), at: performance.now() };
  const commands: Record<string, (m: any) => Promise<unknown>> = {
    counts: async () => app.store.countGrantsByStatus(),
    offset: async (m: { ms: number }) => {
      if (!spec.offsetClock) throw new Error('this broker runs on the system clock');
      offsetMs += m.ms;
      return offsetMs;
    },
    now: async () => (clock ?? { now: () => Date.now() }).now(),
    wake: async () => app.worker.wake(),
    create: async (m: { n: number; concurrency: number; durationMs: number; user?: string }) => {
      const actor = app.catalog.users.get(m.user ?? 'alice');
      if (!actor) throw new Error(`user ${m.user ?? 'alice'} is not in the config`);
      const ids: string[] = [];
      let errors = 0;
      let firstError: string | null = null;
      let next = 0;
      const s = performance.now();
      await Promise.all(
        Array.from({ length: m.concurrency }, async () => {
          while (next < m.n) {
            next++;
            try {
              const o = await app.requests.create({ actor, profile: 'pg-read', durationMs: m.durationMs, reason: 'bench', ticket: null });
              if (o.grant?.status !== 'active') throw new Error(`grant not active: ${o.grant?.status}`);
              ids.push(o.grant.id);
            } catch (err) {
              errors++;
              firstError ??= err instanceof Error ? err.message : String(err);
            }
          }
        }),
      );
      const ms = performance.now() - s;
      return { ids, errors, firstError, ms, rate: (ids.length / ms) * 1000 };
    },
    adopt: async (m: { accounts: string[]; user: string; expiresAt: number }) => {
      const { makeGrant } = await import('../src/store/testing/fixtures.js');
      const now = (clock ?? { now: () => Date.now() }).now();
      const ids: string[] = [];
      for (let i = 0; i < m.accounts.length; i += 1000) {
        await app.store.transaction(async (tx) => {
          for (const account of m.accounts.slice(i, i + 1000)) {
            const g = makeGrant({
              user: m.user,
              profile: 'pg-read',
              target: 'pg',
              account,
              roles: ['app_read'],
              status: 'active',
              createdAt: now,
              activatedAt: now,
              expiresAt: m.expiresAt,
              durationMs: m.expiresAt - now,
              maxDurationMs: 8 * 3_600_000,
              sealedSecret: null,
            });
            await tx.insertGrant(g);
            ids.push(g.id);
          }
        });
      }
      app.worker.dueBy(m.expiresAt);
      return ids;
    },
    live: async (m: { user: string; limit?: number }) =>
      (await app.store.listGrants({ user: m.user, statuses: ['provisioning', 'active', 'revoking', 'revoke-failing'], limit: m.limit })).length,
    grants: async (m: { ids: string[] }) => {
      const found = await Promise.all(m.ids.map((id) => app.store.getGrant(id)));
      return found
        .filter((g) => g !== undefined)
        .map((g) => ({
          id: g.id,
          status: g.status,
          expiresAt: g.expiresAt,
          revokedAt: g.revokedAt,
          revokeReason: g.revokeReason,
          attempts: g.attempts,
          failingSince: g.failingSince,
        }));
    },
    // Event loop utilization and the process's CPU (all its threads, in cores) since the last reset.
    load: async (m: { reset?: boolean }) => {
      const now = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage(), at: performance.now() };
      const out = {
        eventLoop: performance.eventLoopUtilization(now.elu, loadMark.elu).utilization,
        cores: (now.cpu.user - loadMark.cpu.user + now.cpu.system - loadMark.cpu.system) / 1000 / Math.max(1, now.at - loadMark.at),
        ms: now.at - loadMark.at,
      };
      if (m.reset) loadMark = now;
      return out;
    },
    timings: async (m: { reset?: boolean }) => {
      const out = Object.fromEntries([...timings].map(([k, v]) => [k, v]));
      if (m.reset) timings.clear();
      return out;
    },
    inflight: async (m: { reset?: boolean }) => {
      const out = Object.fromEntries([...inflight].map(([k, v]) => [k, { max: v.max, calls: v.calls }]));
      if (m.reset) {
        for (const v of inflight.values()) {
          v.max = v.now;
          v.calls = 0;
        }
      }
      return out;
    },
    cpu: async () => process.cpuUsage(),
    /** CPU ticks (1/100 s) per thread of this process, by thread name (Linux). */
    threads: async () => {
      const { readdirSync, readFileSync } = await import('node:fs');
      const out: Record<string, number> = {};
      for (const tid of readdirSync('/proc/self/task')) {
        try {
          const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
          const m = /^\d+ \((.*?)\) (.*)$/s.exec(st);
          if (!m) continue;
          const f = m[2]!.split(' ');
          const name = tid === String(process.pid) ? 'main' : m[1]!;
          out[name] = (out[name] ?? 0) + Number(f[11]) + Number(f[12]);
        } catch {
          /* thread gone */
        }
      }
      return out;
    },
    memory: async () => {
      if (gc) gc();
      return process.memoryUsage();
    },
    close: async () => {
      await app.close();
      dest.flushSync();
      setImmediate(() => process.exit(0));
      return true;
    },
  };
  process.on('message', (m: { id: number; cmd: string }) => {
    const fn = commands[m.cmd];
    if (!fn) return send({ id: m.id, ok: false, error: `unknown command ${m.cmd}` });
    fn(m).then(
      (value) => send({ id: m.id, ok: true, value }),
      (err: unknown) => send({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  // The parent going away (even by SIGKILL) ends this process too.
  process.on('disconnect', () => {
    void app.close().finally(() => process.exit(0));
  });
}

main().catch((err) => {
  process.stderr.write(`broker-child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
