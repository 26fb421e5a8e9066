// Test fixture on the shared Redis test server: a least-privileged Stint admin
// (exactly MINIMUM_ADMIN_RULES), an own account, and a per-env marker so test
// files sharing the server never see each other's accounts. User names are
// server-wide, so every one carries a random suffix.

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { randomId } from '../../../core/ids.js';
import { testRedisServer, type RedisTestServer } from '../../../testing/servers/redis.js';
import type { Connector } from '../../contract.js';
import type { ContractHarness, ContractLogin, ContractSession } from '../../testing/contract-suite.js';
import { MINIMUM_ADMIN_RULES } from '../acl-rules.js';
import { createRedisConnector } from '../module.js';

export interface RedisTestEnv {
  server: RedisTestServer;
  suffix: string;
  admin: { user: string; secret: string };
  own: { user: string; secret: string };
  marker: string;
  /** Key prefix the `allowed` grant may read; `secret:<suffix>:*` keys are readable by nobody but root. */
  appKey: string;
  /** Superuser connection. */
  root: Redis;
  newConnector(overrides?: { port?: number; host?: string; adminUser?: string; adminSecret?: string; marker?: string }): Connector;
  /** Connects and authenticates (throws when refused). */
  connect(user: string, secret: string): Promise<Redis>;
  createUnmanaged(name: string, secret?: string): Promise<void>;
  teardown(): Promise<void>;
}

export const testSecret = () => `T${randomBytes(18).toString('base64url')}`;

/** A client that never reconnects or queues: a dropped connection stays dropped, which the tests observe. */
export function plainClient(host: string, port: number): Redis {
  const c = new Redis({
    host,
    port,
    protocol: 2, // no HELLO before AUTH: `default` is off on the test server
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    disableClientInfo: true,
    connectTimeout: 5000,
  });
  c.on('error', () => {});
  return c;
}

export async function createRedisTestEnv(): Promise<RedisTestEnv> {
  const server = await testRedisServer();
  const suffix = randomId(8);
  const root = plainClient(server.host, server.port);
  await root.connect();
  await root.call('AUTH', server.user, server.password);
  const admin = { user: `stint_admin_${suffix}`, secret: testSecret() };
  const own = { user: `own_${suffix}`, secret: testSecret() };
  const marker = `__stint_managed_${suffix}__`;
  const appKey = `app:${suffix}:`;
  const created = new Set<string>([admin.user, own.user]);
  const connectors: Connector[] = [];
  const clients = new Set<Redis>();

  await root.call('ACL', 'SETUSER', admin.user, 'reset', 'on', `>${admin.secret}`, ...MINIMUM_ADMIN_RULES);
  // The person's everyday account: its own keys and a few commands, nothing under app:.
  await root.call('ACL', 'SETUSER', own.user, 'reset', 'on', `>${own.secret}`, `~own:${suffix}:*`, 'resetchannels', '-@all', '+ping', '+get', '+set');
  await root.set(`${appKey}item`, 'one');
  await root.set(`secret:${suffix}:item`, 'hidden');

  const env: RedisTestEnv = {
    server,
    suffix,
    admin,
    own,
    marker,
    appKey,
    root,
    newConnector(o = {}) {
      const c = createRedisConnector({
        target: `redis-test-${suffix}`,
        settings: { host: o.host ?? server.host, port: o.port ?? server.port, marker: o.marker ?? marker, connectTimeoutMs: 3000, commandTimeoutMs: 5000 },
        adminUser: o.adminUser ?? admin.user,
        adminSecret: o.adminSecret ?? admin.secret,
      });
      connectors.push(c);
      return c;
    },
    async connect(user, secret) {
      const c = plainClient(server.host, server.port);
      try {
        await c.connect();
        await c.call('AUTH', user, secret);
      } catch (err) {
        c.disconnect();
        throw err;
      }
      clients.add(c);
      return c;
    },
    async createUnmanaged(name, secret = testSecret()) {
      await root.call('ACL', 'SETUSER', name, 'reset', 'on', `>${secret}`, 'resetchannels', '-@all', '+ping');
      created.add(name);
    },
    async teardown() {
      for (const c of clients) c.disconnect();
      for (const c of connectors) await c.close().catch(() => {});
      // Whatever carries this env's markers, plus what the env made itself.
      const names = ((await root.call('ACL', 'USERS')) as string[]).filter((n) => created.has(n) || n.includes(suffix));
      for (const n of names) await root.call('ACL', 'DELUSER', n).catch(() => {});
      const keys = await root.keys(`*${suffix}*`);
      if (keys.length) await root.del(...keys);
      root.disconnect();
    },
  };
  return env;
}

/** Treats only a dead connection as dead: a NOPERM reply means the server still serves it. */
async function alive(c: Redis): Promise<boolean> {
  try {
    await c.ping();
    return true;
  } catch (err) {
    return /^NOPERM/.test(err instanceof Error ? err.message : '');
  }
}

function redisLogin(env: RedisTestEnv, c: Redis): ContractLogin {
  return {
    tryAllowed: async () => {
      if ((await c.get(`${env.appKey}item`)) !== 'one') throw new Error('unexpected value');
    },
    tryForbidden: async () => {
      await c.get(`secret:${env.suffix}:item`);
    },
    close: async () => {
      c.disconnect();
    },
  };
}

function redisSession(c: Redis): ContractSession {
  return {
    isAlive: () => alive(c),
    close: async () => {
      c.disconnect();
    },
  };
}

export function redisHarness(env: RedisTestEnv): ContractHarness {
  const connector = env.newConnector();
  const s = env.suffix;
  return {
    connector,
    // Read app:<suffix>:* and the one command that reads it.
    grants: { allowed: [`%R~${env.appKey}*`, '+get'], nonexistent: ['+no_such_command'] },
    login: async (account, secret) => redisLogin(env, await env.connect(account, secret)),
    ownAccount: env.own.user,
    ownLogin: async () => redisLogin(env, await env.connect(env.own.user, env.own.secret)),
    openSession: async (account, secret) => redisSession(await env.connect(account, secret)),
    openOwnSession: async () => redisSession(await env.connect(env.own.user, env.own.secret)),
    createUnmanaged: (name) => env.createUnmanaged(name),
    supportsNativeExpiry: false,
    accountName: (() => {
      let n = 0;
      return () => `stint_${s}_${++n}`;
    })(),
    // Redis user names cannot hold whitespace; everything else is fair game,
    // including text that looks like ACL rules (it must stay a name).
    hostileNames: () => [
      `x";DROP_ROLE_admin;--${s}`,
      `q'uote"d;semi;${s}`,
      `back\\slash'${s}`,
      `>pw&*~*+@all(${s})`,
      `#${'a'.repeat(64)}${s}`,
      `日é_${s}_${'u'.repeat(40)}`,
    ],
    teardown: () => env.teardown(),
  };
}
