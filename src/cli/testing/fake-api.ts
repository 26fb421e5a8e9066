// A stand-in for Stint's HTTP API in CLI tests: canned API-shaped answers
// on 127.0.0.1, and a log of what the CLI sent. Plus runners for the CLI,
// in process (fast) and as the real binary in a child process.

import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { GrantView, RequestView } from '../../api/views/index.js';
import type { CliIO, Command } from '../command.js';

export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  body: unknown;
}

export interface Canned {
  status?: number;
  body: unknown;
  /** Raw text instead of JSON (to play a proxy that is not Stint). */
  raw?: string;
}

export type Responder = Canned | ((seen: Seen, nth: number) => Canned);

export class FakeApi {
  readonly seen: Seen[] = [];
  private readonly routes = new Map<string, Responder>();
  private readonly counts = new Map<string, number>();
  private server: Server | null = null;
  url = '';

  /** Answers `METHOD /path` (no query) with a canned body, or a function of the request and how many came before. */
  on(route: string, responder: Responder): this {
    this.routes.set(route, responder);
    this.counts.set(route, 0);
    return this;
  }

  reset(): void {
    this.seen.length = 0;
    this.routes.clear();
    this.counts.clear();
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://x');
        const text = Buffer.concat(chunks).toString('utf8');
        const seen: Seen = {
          method: req.method ?? '',
          path: u.pathname,
          query: u.searchParams,
          authorization: req.headers.authorization,
          body: text ? JSON.parse(text) : undefined,
        };
        this.seen.push(seen);
        const key = `${seen.method} ${seen.path}`;
        const responder = this.routes.get(key);
        const nth = this.counts.get(key) ?? 0;
        this.counts.set(key, nth + 1);
        const canned: Canned = !responder
          ? { status: 404, body: { error: { code: 'not_found', message: `no route ${key}`, requestId: 'r-fake404' } } }
          : typeof responder === 'function'
            ? responder(seen, nth)
            : responder;
        res.writeHead(canned.status ?? 200, { 'content-type': canned.raw !== undefined ? 'text/html' : 'application/json' });
        res.end(canned.raw ?? JSON.stringify(canned.body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

export const apiError = (status: number, code: string, message: string): Canned => ({ status, body: { error: { code, message, requestId: `r-${code}` } } });

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command in this process with a captured io. */
export async function runCommand(command: Command, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env,
    isTTY: false,
    stderrIsTTY: false,
  };
  const code = await command.run(args, io);
  return { code, stdout, stderr };
}

export const binPath = fileURLToPath(new URL('../../../bin/stint.js', import.meta.url));

/** Runs the real `stint` binary as a child process (asynchronously, so a FakeApi in this process keeps answering). */
export function runBinary(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function grant(over: Partial<GrantView> = {}): GrantView {
  return {
    id: 'gr_aaaaaaaaaaaa',
    requestId: 'req_aaaaaaaaaaaa',
    user: 'alice',
    profile: 'pg-read',
    target: 'pg-main',
    mode: 'ephemeral-account',
    account: 'stint_alice_k3j9',
    roles: ['app_read'],
    status: 'active',
    duration: '30m',
    maxDuration: '1h',
    createdAt: '2025-01-01T10:00:00.000Z',
    activatedAt: '2025-01-01T10:00:01.000Z',
    expiresAt: '2025-01-01T10:30:01.000Z',
    remainingMs: 29 * 60_000 + 30_000,
    revokeReason: null,
    revokedAt: null,
    lastError: null,
    attempts: 0,
    failingSince: null,
    sessionBound: false,
    ...over,
  };
}

export function request(over: Partial<RequestView> = {}): RequestView {
  return {
    id: 'req_aaaaaaaaaaaa',
    user: 'alice',
    profile: 'pg-read',
    target: 'pg-main',
    mode: 'ephemeral-account',
    status: 'pending',
    duration: '30m',
    durationMs: 1_800_000,
    reason: 'debug INC-42',
    ticket: 'INC-42',
    policy: 'dev-read',
    requiredApprovals: 1,
    createdAt: '2025-01-01T10:00:00.000Z',
    pendingExpiresAt: null,
    decidedAt: null,
    decidedBy: null,
    decisionComment: null,
    grantId: null,
    ...over,
  };
}
