// What the SSH gateway tests share: a real sshd target (the ssh connector's
// test env), its stint.yaml target block, the real OpenSSH clients run as
// child processes, and cleanup of the accounts a test left behind.
//
// Needs root (the ssh connector makes real accounts on this machine). Only
// test accounts are made: the broker names them `stint_<user>_<6>` with UIDs
// in the test env's block and its private marker group; cleanup removes only
// accounts with that name prefix, that marker group and a UID in that block.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSshTestEnv, type SshTestEnv } from '../../connectors/ssh/testing/ssh-test-env.js';
import { SSH_TEST_ENV, startSshTestServer, type SshTestServer } from '../../testing/servers/ssh.js';

function tryRun(file: string, args: string[]): string | null {
  try {
    return execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch {
    return null;
  }
}

export const accountExists = (name: string) => tryRun('getent', ['passwd', name]) !== null;

export interface ClientResult {
  code: number | null;
  out: string;
  err: string;
}

export interface SshGatewayTestEnv {
  env: SshTestEnv;
  /** 0700 scratch directory: keys, config, HOME of the clients. */
  dir: string;
  /** The `targets:` entry named `host` for stint.yaml (two-space indented list item). */
  targetYaml: string;
  /** Writes a private key into dir (0600) and returns its path. */
  writeKey(name: string, privateKey: string): string;
  /** OpenSSH client options: no host key prompts, batch mode, only this key. */
  sshArgs(keyFile: string, port?: number): string[];
  /** Runs a client (ssh, scp, sftp) with HOME=dir; stdin gets `input` and is closed. */
  run(cmd: string, args: string[], input?: string): Promise<ClientResult>;
  /** Starts a client and leaves it running (killed at teardown). */
  spawn(cmd: string, args: string[]): ChildProcess;
  teardown(): Promise<void>;
}

export async function createSshGatewayTestEnv(prefix: string): Promise<SshGatewayTestEnv> {
  let own: SshTestServer | null = null;
  if (!process.env[SSH_TEST_ENV.port]) {
    own = await startSshTestServer();
    Object.assign(process.env, own.env);
  }
  const env = await createSshTestEnv();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  const writeKey = (name: string, privateKey: string) => {
    const file = join(dir, name);
    writeFileSync(file, privateKey, { mode: 0o600 });
    return file;
  };
  const operatorKey = writeKey('operator.key', env.server.adminKey);
  const targetYaml = env.targetYaml(operatorKey);
  const children: ChildProcess[] = [];
  const start = (cmd: string, args: string[]) => {
    const c = spawn(cmd, args, { env: { PATH: process.env.PATH, HOME: dir }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(c);
    return c;
  };

  return {
    env,
    dir,
    targetYaml,
    writeKey,
    sshArgs: (keyFile, port) => [
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'IdentitiesOnly=yes',
      '-i',
      keyFile,
      ...(port ? ['-p', String(port)] : []),
    ],
    run(cmd, args, input) {
      return new Promise((resolve) => {
        const c = start(cmd, args);
        let out = '';
        let err = '';
        c.stdout!.on('data', (d) => (out += d));
        c.stderr!.on('data', (d) => (err += d));
        c.on('close', (code) => resolve({ code, out, err }));
        c.stdin!.end(input ?? '');
      });
    },
    spawn: start,
    async teardown() {
      for (const c of children) c.kill('SIGKILL');
      // Leftover ephemeral accounts go with env.teardown() (this env's marker group and UID block only).
      await env.teardown();
      if (own) {
        await own.stop();
        // The next env in this process starts its own server again.
        for (const k of Object.keys(own.env)) delete process.env[k];
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
