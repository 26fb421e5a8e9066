// Redis connector: ephemeral ACL users, and own-account grants as ACL
// selectors. A profile's grants are ACL rule tokens (`~app:*`, `&chan*`,
// `+@read`, `-flushall`); see README.md beside this file for what the admin
// user needs.
//
// Safety rules, enforced here rather than trusted to callers:
// - every value travels as its own command argument, never pasted into text
//   (a selector is one argument built only from grammar-checked tokens);
// - only users whose root rules carry the marker channel are ever altered,
//   removed or listed as managed; only selectors carrying a grant marker are
//   ever removed from someone's own account;
// - the password travels as its SHA-256 (`#<hex>`, what Redis stores anyway)
//   and every error is scrubbed of it, its hash and the admin secret.

import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type {
  AccountInfo,
  CreateAccountRequest,
  ExtendAccountRequest,
  GrantToAccountRequest,
  ListHoldersRequest,
  ListHoldersResponse,
  ListManagedResponse,
  RemoveAccountRequest,
  RemoveAccountResponse,
  RevokeFromAccountRequest,
  RevokeFromAccountResponse,
} from '../contract.js';
import { operationError, type KindConnector, type Operation } from '../kit/operation.js';
import type { KindInput } from '../module.js';
import {
  LOCK_KEY_PREFIX,
  checkAccountName,
  checkGrant,
  clientsOf,
  grantDigest,
  isMarked,
  managedGrants,
  parseGetUser,
  rebuildSelector,
  ruleTokens,
  sameRuleSet,
  selectorArgument,
  selectorDigest,
  type AclUser,
} from './acl-rules.js';
import { toTargetError } from './errors.js';
import { holdersIn } from './holders.js';
import type { RedisSettings } from './settings.js';

const LOCK_TTL_MS = 15_000;
const LOCK_WAIT_MS = 10_000;
// How long removal waits for Redis to close a deleted user's connections.
const DISCONNECT_WAIT_MS = 3_000;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The kind's operations; kit/create.ts parses the settings and wraps these (module.ts). */
export function openRedis(input: KindInput<RedisSettings>): KindConnector {
  const settings = input.settings;
  const target = input.target;
  const marker = settings.marker;

  let client: Redis | null = null;
  let connecting: Promise<Redis> | null = null;
  let closed = false;
  let aclFile: Promise<boolean> | null = null;
  // Serialises operations on one account within this process (the Redis lock covers other brokers).
  const queues = new Map<string, Promise<unknown>>();

  const fail = (operation: string, account: string, reason: string, retryable = false) =>
    operationError('redis', target, operation, account, reason, retryable);

  /**
   * One shared connection. It never reconnects by itself (a command during an
   * outage fails at once, retryably, instead of queueing); the next operation
   * after a drop opens a new one.
   */
  function redis(): Promise<Redis> {
    if (client && client.status === 'ready') return Promise.resolve(client);
    connecting ??= (async () => {
      client?.disconnect();
      const c = new Redis({
        host: settings.host,
        port: settings.port,
        username: input.adminUser,
        password: input.adminSecret,
        tls: settings.tls ? { servername: settings.host } : undefined,
        // RESP2: plain AUTH on connect and the reply shapes acl-rules.ts reads, on any Redis 6+.
        protocol: 2,
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false, // INFO would need another permission
        disableClientInfo: true, // CLIENT SETINFO likewise
        connectTimeout: settings.connectTimeoutMs,
        commandTimeout: settings.commandTimeoutMs,
        autoResubscribe: false,
      });
      // Errors surface through the failing command; without a listener
      // ioredis would log them. A refused AUTH during connect() only shows
      // here (connect() then just reports the closed connection).
      let handshakeError: unknown = null;
      c.on('error', (e: unknown) => {
        handshakeError ??= e;
      });
      try {
        await c.connect();
        await c.ping();
      } catch (err) {
        c.disconnect();
        throw handshakeError ?? err;
      }
      client = c;
      return c;
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  }

  async function getUser(c: Redis, account: string): Promise<AclUser | null> {
    return parseGetUser(await c.call('ACL', 'GETUSER', account));
  }

  /** Whether the server keeps users in an aclfile (then every change is saved there). Fixed at server start, so asked once. */
  function usesAclFile(c: Redis): Promise<boolean> {
    aclFile ??= (c.call('CONFIG', 'GET', 'aclfile') as Promise<unknown>).then(
      (r) => Array.isArray(r) && typeof r[1] === 'string' && r[1].length > 0,
      (e: unknown) => {
        aclFile = null;
        throw e;
      },
    );
    return aclFile;
  }

  async function persist(c: Redis): Promise<void> {
    if (await usesAclFile(c)) await c.call('ACL', 'SAVE');
  }

  async function serial<T>(account: string, fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(account) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    queues.set(account, tail);
    try {
      return await next;
    } finally {
      if (queues.get(account) === tail) queues.delete(account);
    }
  }

  /**
   * Holds a short-lived Redis lock on the account while changing its
   * selectors: Redis has no compare-and-set for ACLs, so without it a revoke
   * racing another broker's grant could drop or restore a selector.
   */
  async function withLock<T>(c: Redis, operation: string, account: string, fn: () => Promise<T>): Promise<T> {
    const key = LOCK_KEY_PREFIX + account;
    const token = randomBytes(12).toString('hex');
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      if ((await c.set(key, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') break;
      if (Date.now() > deadline) throw fail(operation, account, 'another operation on this account holds its lock; retry later', true);
      await sleep(25 + Math.random() * 50);
    }
    const started = Date.now();
    try {
      return await fn();
    } finally {
      // Past half the TTL the lock may have expired and been taken by someone
      // else; leave it to expire rather than delete theirs.
      if (Date.now() - started < LOCK_TTL_MS / 2) await c.del(key).catch(() => {});
    }
  }

  function requireManaged(operation: string, account: string, user: AclUser): void {
    if (!isMarked(user, marker)) {
      throw fail(operation, account, `the user exists but is not managed by Stint (no &${marker} marker); it was left unchanged`);
    }
  }

  /**
   * Ends every connection of `account`, works whether or not the user still
   * exists (CLIENT KILL USER refuses unknown users, so by id). With `wait`,
   * looks again until Redis has closed them all. Returns the ids it saw.
   */
  async function endSessions(c: Redis, op: string, account: string, wait: boolean): Promise<Set<string>> {
    const seen = new Set<string>();
    const deadline = Date.now() + DISCONNECT_WAIT_MS;
    for (;;) {
      const ids = clientsOf(String(await c.call('CLIENT', 'LIST')), account);
      if (ids.length === 0) return seen;
      for (const id of ids) {
        seen.add(id);
        await c.call('CLIENT', 'KILL', 'ID', id);
      }
      if (!wait) return seen;
      // Redis closes killed clients asynchronously.
      if (Date.now() > deadline) throw fail(op, account, `${ids.length} connection(s) of the user are still open; retry`, true);
      await sleep(50);
    }
  }

  return {
    // Each own-account grant is one selector: the broker counts whole sets, not single rules.
    grantsFormOneUnit: true,
    classify: toTargetError,
    checkAccount(account) {
      const why = checkAccountName(account);
      return why ? `invalid Redis user name: ${why}` : null;
    },
    checkGrant(g) {
      const why = checkGrant(g);
      return why ? `grant ${JSON.stringify(g)} is not allowed: ${why}` : null;
    },

    async createAccount(req: CreateAccountRequest, { secret }: Operation): Promise<void> {
      const op = 'createAccount';
      const hash = sha256(req.secret);
      secret(hash);
      const grants = [...new Set(req.grants)];
      await serial(req.account, async () => {
        const c = await redis();
        const existing = await getUser(c, req.account);
        if (existing) requireManaged(op, req.account, existing);
        // One command, applied all-or-nothing by Redis: on an existing
        // managed user (a retry) it resets it to exactly this definition.
        // resetchannels: with acl-pubsub-default=allchannels, reset leaves every channel allowed.
        await c.call('ACL', 'SETUSER', req.account, 'reset', 'on', `#${hash}`, 'resetchannels', `&${marker}`, ...grants);
        await persist(c);
      });
    },

    async extendAccount(req: ExtendAccountRequest): Promise<void> {
      const op = 'extendAccount';
      const user = await getUser(await redis(), req.account);
      if (!user) throw fail(op, req.account, 'the user does not exist');
      requireManaged(op, req.account, user);
      // Redis ACLs have no expiry: the broker's clock is the only one, so there is nothing to change.
    },

    async removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse> {
      const op = 'removeAccount';
      return serial(req.account, async () => {
        const c = await redis();
        const user = await getUser(c, req.account);
        if (!user) {
          // A previous attempt may have deleted the user but failed to save
          // the file or to see its connections close: finish that work.
          await endSessions(c, op, req.account, true);
          await persist(c);
          return { existed: false, terminatedSessions: 0 };
        }
        requireManaged(op, req.account, user);
        // End the user's connections (counting them), then delete it.
        // DELUSER itself closes any connection made in between.
        const killed = Number(await c.call('CLIENT', 'KILL', 'USER', req.account).catch(() => 0)) || 0;
        await c.call('ACL', 'DELUSER', req.account);
        // Make sure no connection is left; ones still listed here are
        // mostly those just killed, still closing.
        const seen = await endSessions(c, op, req.account, true);
        const terminatedSessions = Math.max(killed, seen.size);
        await persist(c);
        return { existed: true, terminatedSessions };
      });
    },

    async grantToAccount(req: GrantToAccountRequest): Promise<void> {
      const op = 'grantToAccount';
      const grants = [...new Set(req.grants)];
      if (grants.length === 0) return;
      const digest = grantDigest(grants);
      await serial(req.account, async () => {
        const c = await redis();
        await withLock(c, op, req.account, async () => {
          const user = await getUser(c, req.account);
          if (!user) throw fail(op, req.account, 'the user does not exist on the target');
          if (user.selectors.some((s) => selectorDigest(s, marker) === digest)) return;
          // Adds one selector; the user's own rules and selectors stay as they are.
          await c.call('ACL', 'SETUSER', req.account, selectorArgument(marker, grants));
          await persist(c);
        });
      });
    },

    async revokeFromAccount(req: RevokeFromAccountRequest): Promise<RevokeFromAccountResponse> {
      const op = 'revokeFromAccount';
      const grants = [...new Set(req.grants)];
      const digest = grantDigest(grants);
      return serial(req.account, async () => {
        const c = await redis();
        const user = await getUser(c, req.account);
        if (!user) return { terminatedSessions: 0 };
        if (grants.length > 0 && user.selectors.some((s) => selectorDigest(s, marker) === digest)) {
          await withLock(c, op, req.account, async () => {
            const now = await getUser(c, req.account);
            if (!now) return;
            const keep = now.selectors.filter((s) => selectorDigest(s, marker) !== digest);
            if (keep.length === now.selectors.length) return;
            // Redis cannot remove one selector: clear them all and put the
            // others back, exactly as GETUSER reported them.
            const args = keep.map(rebuildSelector);
            if (args.some((a) => a === null)) {
              throw fail(op, req.account, 'the user has a selector Stint cannot restore exactly (it contains quotes); nothing was changed');
            }
            await c.call('ACL', 'SETUSER', req.account, 'clearselectors', ...(args as string[]));
            const after = await getUser(c, req.account);
            const restored = after !== null && after.selectors.length === keep.length && keep.every((s, i) => sameRuleSet(s, after.selectors[i]!));
            if (!restored)
              throw fail(op, req.account, "the user's other selectors did not read back identically after the revoke; check them with ACL GETUSER");
            await persist(c);
          });
        }
        // Permissions are checked on every command, so open connections
        // lose the grant at once; ending them is only asked for on top.
        const terminatedSessions = req.terminateSessions ? (await endSessions(c, op, req.account, false)).size : 0;
        return { terminatedSessions };
      });
    },

    async listManaged(): Promise<ListManagedResponse> {
      const c = await redis();
      const names = ((await c.call('ACL', 'USERS')) as unknown[]).map(String);
      const pipe = c.pipeline();
      for (const n of names) pipe.call('ACL', 'GETUSER', n);
      const replies = (await pipe.exec()) ?? [];
      const accounts = [];
      for (let i = 0; i < names.length; i++) {
        const [err, reply] = replies[i] ?? [null, null];
        if (err) throw err;
        const user = parseGetUser(reply);
        // A user deleted between ACL USERS and GETUSER is simply gone.
        if (user && isMarked(user, marker)) {
          accounts.push({ account: names[i]!, grants: ruleTokens(user, new Set([marker])), expiresAt: null });
        }
      }
      return { accounts };
    },

    async listHolders(req: ListHoldersRequest): Promise<ListHoldersResponse> {
      const c = await redis();
      const names = ((await c.call('ACL', 'USERS')) as unknown[]).map(String);
      const pipe = c.pipeline();
      for (const n of names) pipe.call('ACL', 'GETUSER', n);
      const replies = (await pipe.exec()) ?? [];
      const users = new Map<string, AclUser>();
      names.forEach((n, i) => {
        const [err, reply] = replies[i] ?? [null, null];
        if (err) throw err;
        const user = parseGetUser(reply);
        if (user) users.set(n, user);
      });
      return { holders: holdersIn(users, req.grants, marker, input.adminUser) };
    },

    async describeAccount(req: { account: string }): Promise<AccountInfo> {
      const user = await getUser(await redis(), req.account);
      return { account: req.account, exists: user !== null, grants: user ? managedGrants(user, marker) : [] };
    },

    async checkHealth(): Promise<void> {
      const c = await redis();
      await c.ping();
      await usesAclFile(c);
    },

    connectionInfo() {
      return { host: settings.host, port: settings.port, tls: settings.tls ? 'on' : 'off' };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const c = client ?? (await connecting?.catch(() => null)) ?? null;
      client = null;
      if (c) await c.quit().catch(() => c.disconnect());
    },
  };
}
