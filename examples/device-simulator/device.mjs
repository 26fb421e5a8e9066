#!/usr/bin/env node
// A PLC-like device to try Stint's script connector against: a TCP service
// speaking one JSON document per line, with its own user table (persisted to
// a JSON file), password login, role-based commands and live sessions that an
// administrator can kill. It has no notion of Stint; device-admin.mjs does the
// Stint side through the device's own management commands.
//
//   DEVICE_INIT_ADMIN=stint DEVICE_INIT_PASSWORD=... \
//     node device.mjs --data ./device.json [--host 127.0.0.1] [--port 5020]
//
// The DEVICE_INIT_* variables are read only when the data file does not exist
// yet, to create its first administrator. See README.md for the commands.

import { createServer } from 'node:net';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt);
const { values: args } = parseArgs({
  options: { data: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '5020' } },
});
if (!args.data) {
  console.error('usage: node device.mjs --data FILE [--host 127.0.0.1] [--port 5020]');
  process.exit(2);
}
const dataFile = args.data;
const MAX_LINE = 64 * 1024;

// What each role may do; fixed in the device's firmware, like a real PLC.
const ROLES = { viewer: ['read'], operator: ['read', 'write'], admin: ['read', 'write', 'admin'] };

/** @type {{ users: Map<string, {name: string, salt: string, hash: string, roles: string[], note: string, validUntil: string | null}>, tags: Record<string, number> }} */
const state = { users: new Map(), tags: {} };

async function hashPassword(password, salt = randomBytes(16).toString('base64')) {
  const hash = /** @type {Buffer} */ (await scryptAsync(String(password), salt, 32));
  return { salt, hash: hash.toString('base64') };
}

function save() {
  const doc = { users: [...state.users.values()], tags: state.tags };
  // Write-then-rename: a crash never leaves a half-written user table.
  writeFileSync(`${dataFile}.tmp`, JSON.stringify(doc, null, 2), { mode: 0o600 });
  renameSync(`${dataFile}.tmp`, dataFile);
}

async function load() {
  if (!existsSync(dataFile)) {
    const name = process.env.DEVICE_INIT_ADMIN;
    const password = process.env.DEVICE_INIT_PASSWORD;
    if (!name || !password) throw new Error('new data file: set DEVICE_INIT_ADMIN and DEVICE_INIT_PASSWORD for the first administrator');
    state.users.set(name, { name, ...(await hashPassword(password)), roles: ['admin'], note: 'device administrator', validUntil: null });
    state.tags = { temperature: 21.5, pressure: 1.013, valve: 0 };
    save();
    return;
  }
  const doc = JSON.parse(readFileSync(dataFile, 'utf8'));
  for (const u of doc.users) state.users.set(u.name, u);
  state.tags = doc.tags;
}

const expired = (u) => u.validUntil !== null && Date.parse(u.validUntil) <= Date.now();

/** Permissions of a session's user right now: revoked roles and expiry apply to open sessions too. */
function permissions(name) {
  const u = state.users.get(name);
  if (!u || expired(u)) return new Set();
  return new Set(u.roles.flatMap((r) => ROLES[r] ?? []));
}

const publicUser = (u) => ({ name: u.name, roles: u.roles, note: u.note, validUntil: u.validUntil, sessions: sessionsOf(u.name).length });

/** @type {Map<import('node:net').Socket, {id: number, user: string | null}>} */
const sessions = new Map();
let nextSession = 1;
const sessionsOf = (name) => [...sessions].filter(([, s]) => s.user === name).map(([sock]) => sock);

class DeviceError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function checkRoles(roles) {
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw new DeviceError('bad-request', 'roles must be a list of names');
  const unknown = roles.filter((r) => !Object.hasOwn(ROLES, r));
  if (unknown.length) throw new DeviceError('unknown-role', `unknown role(s): ${unknown.join(', ')}`);
  return [...new Set(roles)];
}

function checkValidUntil(v) {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw new DeviceError('bad-request', 'validUntil must be an ISO date or null');
  return new Date(v).toISOString();
}

function need(session, perm) {
  if (!permissions(session.user).has(perm)) throw new DeviceError('forbidden', `permission "${perm}" required`);
}

function named(msg) {
  if (typeof msg.name !== 'string' || msg.name.length === 0) throw new DeviceError('bad-request', 'name is required');
  return msg.name;
}

// Commands after login. Admin commands are the device's management interface.
const commands = {
  ping: () => ({}),
  whoami: (s) => ({ user: s.user, permissions: [...permissions(s.user)] }),
  read(s, msg) {
    need(s, 'read');
    if (!Object.hasOwn(state.tags, msg.tag)) throw new DeviceError('not-found', 'no such tag');
    return { value: state.tags[msg.tag] };
  },
  write(s, msg) {
    need(s, 'write');
    if (!Object.hasOwn(state.tags, msg.tag) || typeof msg.value !== 'number') throw new DeviceError('bad-request', 'tag and numeric value required');
    state.tags[msg.tag] = msg.value;
    save();
    return {};
  },
  'roles.list': (s) => (need(s, 'admin'), { roles: Object.keys(ROLES) }),
  'user.list': (s) => (need(s, 'admin'), { users: [...state.users.values()].map(publicUser) }),
  'user.get'(s, msg) {
    need(s, 'admin');
    const u = state.users.get(named(msg));
    return { user: u ? publicUser(u) : null };
  },
  async 'user.create'(s, msg) {
    need(s, 'admin');
    const name = named(msg);
    if (typeof msg.password !== 'string' || msg.password.length === 0) throw new DeviceError('bad-request', 'password is required');
    const roles = checkRoles(msg.roles ?? []);
    const validUntil = checkValidUntil(msg.validUntil);
    const hashed = await hashPassword(msg.password);
    // Checked after the await: another connection may have created it meanwhile.
    if (state.users.has(name)) throw new DeviceError('exists', 'user exists');
    state.users.set(name, { name, ...hashed, roles, note: typeof msg.note === 'string' ? msg.note : '', validUntil });
    save();
    return {};
  },
  async 'user.update'(s, msg) {
    need(s, 'admin');
    const name = named(msg);
    const patch = {};
    if (msg.roles !== undefined) patch.roles = checkRoles(msg.roles);
    if (msg.validUntil !== undefined) patch.validUntil = checkValidUntil(msg.validUntil);
    if (typeof msg.note === 'string') patch.note = msg.note;
    if (msg.password !== undefined) Object.assign(patch, await hashPassword(msg.password));
    const u = state.users.get(name);
    if (!u) throw new DeviceError('not-found', 'no such user');
    Object.assign(u, patch);
    save();
    return {};
  },
  'user.delete'(s, msg) {
    need(s, 'admin');
    const existed = state.users.delete(named(msg));
    if (existed) save();
    return { existed };
  },
  'session.kill'(s, msg) {
    need(s, 'admin');
    const victims = sessionsOf(named(msg)).filter((sock) => sessions.get(sock) !== s);
    for (const sock of victims) {
      sessions.delete(sock);
      sock.destroy();
    }
    return { killed: victims.length };
  },
};

async function login(msg) {
  const u = typeof msg.user === 'string' ? state.users.get(msg.user) : undefined;
  if (!u || typeof msg.password !== 'string' || expired(u)) return null;
  const { hash } = await hashPassword(msg.password, u.salt);
  return timingSafeEqual(Buffer.from(hash, 'base64'), Buffer.from(u.hash, 'base64')) ? u.name : null;
}

async function handle(sock, session, line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return { ok: false, code: 'bad-request', error: 'not JSON' };
  }
  if (session.user === null) {
    if (msg?.op !== 'login') return { ok: false, code: 'unauthenticated', error: 'log in first' };
    const user = await login(msg);
    if (!user) {
      sock.end(`${JSON.stringify({ ok: false, code: 'login-refused', error: 'login refused' })}\n`);
      return null;
    }
    session.user = user;
    return { ok: true, session: session.id };
  }
  const fn = Object.hasOwn(commands, msg?.op) ? commands[msg.op] : undefined;
  if (!fn) return { ok: false, code: 'bad-request', error: 'unknown command' };
  try {
    return { ok: true, ...(await fn(session, msg)) };
  } catch (e) {
    if (e instanceof DeviceError) return { ok: false, code: e.code, error: e.message };
    throw e;
  }
}

await load();
const server = createServer((sock) => {
  const session = { id: nextSession++, user: null };
  sessions.set(sock, session);
  let buf = '';
  // One command at a time per connection, answered in order.
  let chain = Promise.resolve();
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => {
    buf += chunk;
    if (buf.length > MAX_LINE && !buf.includes('\n')) return sock.destroy();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      chain = chain
        .then(() => handle(sock, session, line))
        .then((reply) => reply && !sock.destroyed && sock.write(`${JSON.stringify(reply)}\n`))
        .catch(() => sock.destroy());
    }
  });
  sock.on('error', () => {});
  sock.on('close', () => sessions.delete(sock));
});
server.listen(Number(args.port), args.host, () => {
  const { address, port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  // The one line a supervisor (or a test) waits for.
  console.log(JSON.stringify({ listening: { host: address, port } }));
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
