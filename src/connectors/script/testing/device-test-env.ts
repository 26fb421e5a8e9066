// Test fixture: the example device simulator (examples/device-simulator/)
// running as a real process on a free loopback port with its own temp data
// file, a script connector driving it through the example admin script, and
// an independent TypeScript client to log in as the issued accounts.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../embedded/free-port.js';
import type { Connector } from '../../contract.js';
import type { ContractHarness, ContractLogin, ContractSession } from '../../testing/contract-suite.js';
import { createScriptConnector } from '../module.js';

export const exampleDir = fileURLToPath(new URL('../../../../examples/device-simulator/', import.meta.url));
export const deviceScript = join(exampleDir, 'device.mjs');
export const adminScript = join(exampleDir, 'device-admin.mjs');
export const testSecret = () => `T${randomBytes(18).toString('base64url')}`;

type Reply = { ok: boolean; code?: string; error?: string } & Record<string, unknown>;

/** One connection to the device; `call` rejects when the connection is gone. */
export class DeviceClient {
  private buf = '';
  private readonly waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private gone: Error | null = null;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.waiting.shift()?.resolve(JSON.parse(line) as Reply);
      }
    });
    const die = (e: Error) => {
      this.gone ??= e;
      for (const w of this.waiting.splice(0)) w.reject(this.gone);
    };
    sock.on('error', die);
    sock.on('close', () => die(new Error('connection closed by the device')));
  }

  static open(port: number): Promise<DeviceClient> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(new DeviceClient(sock));
      });
    });
  }

  /** Opens a connection and logs in; throws when the device refuses. */
  static async login(port: number, user: string, password: string): Promise<DeviceClient> {
    const c = await DeviceClient.open(port);
    const r = await c.call({ op: 'login', user, password }).catch((e: Error) => ({ ok: false, error: e.message }) as Reply);
    if (!r.ok) {
      c.close();
      throw new Error(`login refused for ${JSON.stringify(user)}`);
    }
    return c;
  }

  call(msg: Record<string, unknown>): Promise<Reply> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Like call, but a refusal throws. */
  async must(msg: Record<string, unknown>): Promise<Reply> {
    const r = await this.call(msg);
    if (!r.ok) throw new Error(`device refused ${String(msg.op)}: ${r.error}`);
    return r;
  }

  close(): void {
    this.sock.destroy();
  }
}

export interface DeviceServer {
  port: number;
  dataFile: string;
  admin: { user: string; secret: string };
  stop(): Promise<void>;
}

/** Starts the simulator on a free port with a fresh data file; stop() kills it and deletes the file. */
export async function startDevice(): Promise<DeviceServer> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-device-'));
  const dataFile = join(dir, 'device.json');
  const port = await freePort();
  const admin = { user: 'stint-admin', secret: testSecret() };
  const child: ChildProcess = spawn(process.execPath, [deviceScript, '--data', dataFile, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', DEVICE_INIT_ADMIN: admin.user, DEVICE_INIT_PASSWORD: admin.secret },
  });
  const cleanup = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('"listening"')) resolve();
      });
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      child.once('exit', (code) => reject(new Error(`device simulator exited with ${code}: ${err.slice(0, 2000)}`)));
      setTimeout(() => reject(new Error('device simulator did not start within 10 s')), 10_000).unref();
    });
  } catch (e) {
    cleanup();
    throw e;
  }
  // Let the test process exit while the device runs; the exit hook kills it.
  for (const h of [child, child.stdout, child.stderr] as { unref?: () => void }[]) h.unref?.();
  return {
    port,
    dataFile,
    admin,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        // Held again while we wait, or an otherwise idle test process would end first.
        child.ref();
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
      // Only now: had stopping failed, the exit hook would still clean up.
      process.off('exit', cleanup);
    },
  };
}

export interface DeviceTestEnv {
  device: DeviceServer;
  /** Admin session on the device, to set up and inspect outside the connector. */
  su: DeviceClient;
  own: { user: string; secret: string };
  newConnector(overrides?: { settings?: Record<string, unknown>; adminSecret?: string }): Connector;
  /** A settings object driving the example admin script for every command. */
  settings(extra?: Record<string, unknown>): Record<string, unknown>;
  createUnmanaged(name: string, secret?: string): Promise<void>;
  teardown(): Promise<void>;
}

export async function createDeviceTestEnv(): Promise<DeviceTestEnv> {
  const device = await startDevice();
  const su = await DeviceClient.login(device.port, device.admin.user, device.admin.secret);
  const own = { user: `own-${randomBytes(4).toString('hex')}`, secret: testSecret() };
  await su.must({ op: 'user.create', name: own.user, password: own.secret, roles: [] });
  const cmd = [process.execPath, adminScript];
  const settings = (extra: Record<string, unknown> = {}) => ({
    commands: { create: cmd, remove: cmd, extend: cmd, grant: cmd, revoke: cmd, list: cmd, describe: cmd, health: cmd },
    timeout: '20s',
    env: { DEVICE_HOST: '127.0.0.1', DEVICE_PORT: String(device.port) },
    connection: { host: '127.0.0.1', port: device.port },
    ...extra,
  });
  return {
    device,
    su,
    own,
    settings,
    newConnector: (o = {}) =>
      createScriptConnector({
        target: 'device-test',
        settings: o.settings ?? settings(),
        adminUser: device.admin.user,
        adminSecret: o.adminSecret ?? device.admin.secret,
      }),
    async createUnmanaged(name, secret = testSecret()) {
      await su.must({ op: 'user.create', name, password: secret, roles: [] });
    },
    async teardown() {
      su.close();
      await device.stop();
    },
  };
}

function deviceLogin(c: DeviceClient): ContractLogin {
  return {
    tryAllowed: async () => {
      await c.must({ op: 'read', tag: 'temperature' });
    },
    tryForbidden: async () => {
      await c.must({ op: 'write', tag: 'valve', value: 1 });
    },
    close: async () => c.close(),
  };
}

function deviceSession(c: DeviceClient): ContractSession {
  return {
    isAlive: () =>
      c.call({ op: 'ping' }).then(
        (r) => r.ok,
        () => false,
      ),
    close: async () => c.close(),
  };
}

export function deviceHarness(env: DeviceTestEnv): ContractHarness {
  const port = env.device.port;
  const connector = env.newConnector();
  return {
    connector,
    // viewer may read tags; writing needs operator, which the suite never grants.
    grants: { allowed: ['viewer'], nonexistent: ['no-such-role'] },
    login: async (account, secret) => deviceLogin(await DeviceClient.login(port, account, secret)),
    ownAccount: env.own.user,
    ownLogin: async () => deviceLogin(await DeviceClient.login(port, env.own.user, env.own.secret)),
    openSession: async (account, secret) => deviceSession(await DeviceClient.login(port, account, secret)),
    openOwnSession: async () => deviceSession(await DeviceClient.login(port, env.own.user, env.own.secret)),
    createUnmanaged: (name) => env.createUnmanaged(name),
    supportsNativeExpiry: true,
    // The device stores validUntil as ISO text with milliseconds.
    expiryPrecisionMs: 0,
    teardown: async () => {
      await connector.close();
      await env.teardown();
    },
  };
}
