#!/usr/bin/env node
// Stint script-connector protocol (src/connectors/script/README.md) for the
// simulated device: reads ONE JSON request on stdin, does the work through the
// device's management commands, writes ONE JSON answer on stdout.
//
// Device address: DEVICE_HOST / DEVICE_PORT (set in the target's `env`).
// Admin credential: `adminUser` / `adminSecret` in the request, never argv.
//
// Safety rules implemented here, because only the script can see the device:
// - every account Stint creates carries the note "stint-managed";
// - create, extend and remove refuse an existing account without that note;
// - a failure leaves nothing half-made (roles are checked before creating).

import { openDevice } from './device-client.mjs';

const MARK = 'stint-managed';
const EX_TEMPFAIL = 75; // the protocol's "retry later" exit code

class Failure extends Error {
  constructor(message, retryable = false) {
    super(message);
    this.retryable = retryable;
  }
}

async function readStdin() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

/** Runs a device command; a refusal becomes a Failure carrying the device's reason. */
async function run(dev, msg) {
  const reply = await dev.call(msg);
  if (!reply.ok) throw Object.assign(new Failure(`device refused ${msg.op}: ${reply.error}`), { deviceCode: reply.code });
  return reply;
}

async function getUser(dev, name) {
  return (await run(dev, { op: 'user.get', name })).user;
}

function requireManaged(user, what) {
  if (user.note !== MARK) throw new Failure(`the account exists on the device but is not managed by Stint; ${what} refused, nothing changed`);
}

async function checkRoles(dev, grants) {
  const { roles } = await run(dev, { op: 'roles.list' });
  const unknown = grants.filter((g) => !roles.includes(g));
  if (unknown.length) throw new Failure(`the device has no role(s) ${JSON.stringify(unknown)}; nothing changed`);
}

const killSessions = async (dev, name) => (await run(dev, { op: 'session.kill', name })).killed;

const operations = {
  health: async () => ({ ok: true }),

  async create(dev, req) {
    await checkRoles(dev, req.grants);
    const user = await getUser(dev, req.account);
    if (user) {
      requireManaged(user, 'create');
      // A retry of a create: bring the account to exactly the requested state.
      await run(dev, { op: 'user.update', name: req.account, password: req.secret, roles: req.grants, validUntil: req.expiresAt });
    } else {
      await run(dev, { op: 'user.create', name: req.account, password: req.secret, roles: req.grants, validUntil: req.expiresAt, note: MARK });
    }
    return { ok: true };
  },

  async extend(dev, req) {
    const user = await getUser(dev, req.account);
    if (!user) throw new Failure('the account does not exist on the device');
    requireManaged(user, 'extend');
    await run(dev, { op: 'user.update', name: req.account, validUntil: req.expiresAt });
    return { ok: true };
  },

  async remove(dev, req) {
    const user = await getUser(dev, req.account);
    if (user) {
      requireManaged(user, 'remove');
      // Delete first, so no new session can start, then end the open ones.
      await run(dev, { op: 'user.delete', name: req.account });
    }
    // Also when the user is gone: a retry after a half-finished removal still ends its sessions.
    const terminatedSessions = await killSessions(dev, req.account);
    return { existed: Boolean(user), terminatedSessions };
  },

  async grant(dev, req) {
    const user = await getUser(dev, req.account);
    if (!user) throw new Failure('the account does not exist on the device');
    await checkRoles(dev, req.grants);
    await run(dev, { op: 'user.update', name: req.account, roles: [...new Set([...user.roles, ...req.grants])] });
    return { ok: true };
  },

  async revoke(dev, req) {
    const user = await getUser(dev, req.account);
    if (!user) return { terminatedSessions: 0 };
    await run(dev, { op: 'user.update', name: req.account, roles: user.roles.filter((r) => !req.grants.includes(r)) });
    return { terminatedSessions: req.terminateSessions ? await killSessions(dev, req.account) : 0 };
  },

  async list(dev) {
    const { users } = await run(dev, { op: 'user.list' });
    return { accounts: users.map((u) => ({ account: u.name, managed: u.note === MARK, grants: u.roles, expiresAt: u.validUntil })) };
  },

  async describe(dev, req) {
    const user = await getUser(dev, req.account);
    if (!user) return { exists: false, managed: false, grants: [] };
    return { exists: true, managed: user.note === MARK, grants: user.roles, expiresAt: user.validUntil };
  },

  sessions: async (dev, req) => ({ terminatedSessions: await killSessions(dev, req.account) }),

  // Who holds any of `grants` (standing-privilege discovery); the admin itself is left out.
  async holders(dev, req) {
    const { users } = await run(dev, { op: 'user.list' });
    const holders = users
      .filter((u) => u.name !== req.adminUser)
      .flatMap((u) => u.roles.filter((r) => req.grants.includes(r)).map((grant) => ({ account: u.name, grant, managed: u.note === MARK })));
    return { holders };
  },
};

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

async function main() {
  const req = await readStdin();
  const op = Object.hasOwn(operations, req.operation) ? operations[req.operation] : undefined;
  if (!op) throw new Failure(`unknown operation ${JSON.stringify(req.operation)}`);
  let dev;
  try {
    dev = await openDevice({ host: process.env.DEVICE_HOST ?? '127.0.0.1', port: Number(process.env.DEVICE_PORT ?? 5020) });
  } catch (e) {
    throw new Failure(`device unreachable (${e.code ?? 'error'})`, true);
  }
  try {
    const login = await dev.call({ op: 'login', user: req.adminUser, password: req.adminSecret });
    if (!login.ok) throw new Failure('the device refused the admin credential');
    return await op(dev, req);
  } finally {
    dev.close();
  }
}

try {
  process.stdout.write(`${JSON.stringify(await main())}\n`);
} catch (e) {
  const retryable = e instanceof Failure ? e.retryable : NETWORK_ERRORS.has(e?.code);
  const message = e instanceof Failure ? e.message : `unexpected failure (${e?.code ?? e?.name ?? 'error'})`;
  process.stdout.write(`${JSON.stringify({ error: { message, retryable } })}\n`);
  process.exitCode = retryable ? EX_TEMPFAIL : 1;
}
