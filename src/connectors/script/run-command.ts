// Runs one admin-configured executable: fixed argv, no shell, a minimal
// environment, the request on stdin, stdout collected up to a limit, stderr
// discarded (it may echo secrets and is not part of the protocol). The child
// leads its own process group so a timeout, an overflow, or leftovers after
// it exits can be killed together with everything it started.

import { spawn } from 'node:child_process';

export interface RunInput {
  argv: readonly string[];
  input: string;
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  maxOutputBytes: number;
}

export type RunOutcome =
  | { kind: 'exited'; code: number; stdout: string }
  | { kind: 'signalled'; signal: string; stdout: string }
  | { kind: 'timeout' }
  | { kind: 'overflow' }
  | { kind: 'spawn-failed'; code: string };

// Process groups of scripts still running: killed if the broker exits, so no
// script outlives it half-way through an operation.
const running = new Set<number>();
let exitHookInstalled = false;
const KILL_GRACE_MS = 2000;

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: the whole group is already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of running) killGroup(pgid);
  });
}

export function runCommand(opts: RunInput): Promise<RunOutcome> {
  installExitHook();
  return new Promise((resolve) => {
    const [file, ...args] = opts.argv;
    const child = spawn(file!, args, {
      shell: false,
      // setsid(): the child leads a new process group (and session), so a
      // negative pid reaches its descendants too.
      detached: true,
      stdio: ['pipe', 'pipe', 'ignore'],
      env: opts.env,
      cwd: opts.cwd,
      windowsHide: true,
    });

    const chunks: Buffer[] = [];
    let size = 0;
    let verdict: 'timeout' | 'overflow' | null = null;
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const pgid = child.pid;

    const finish = (outcome: RunOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (pgid !== undefined) running.delete(pgid);
      resolve(outcome);
    };

    const stop = (why: 'timeout' | 'overflow') => {
      if (verdict) return;
      verdict = why;
      if (pgid !== undefined) killGroup(pgid);
      // A descendant that left the group (its own setsid) may hold stdout
      // open forever; stop waiting for it.
      setTimeout(() => {
        child.stdout?.destroy();
        finish({ kind: why });
      }, KILL_GRACE_MS).unref();
    };

    const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);

    child.on('error', (err: NodeJS.ErrnoException) => {
      // Raised when the executable cannot be started (ENOENT, EACCES, EAGAIN…).
      if (pgid === undefined) finish({ kind: 'spawn-failed', code: err.code ?? 'error' });
    });
    if (pgid === undefined) return;
    running.add(pgid);

    child.stdout!.on('data', (chunk: Buffer) => {
      if (verdict) return;
      size += chunk.length;
      if (size > opts.maxOutputBytes) {
        stop('overflow');
        return;
      }
      chunks.push(chunk);
    });

    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Whatever the script left running in its group goes with it; this also
      // releases a stdout pipe a background child still holds open.
      killGroup(pgid);
    });

    child.on('close', () => {
      if (verdict) return finish({ kind: verdict });
      const stdout = Buffer.concat(chunks).toString('utf8');
      if (exit?.signal) return finish({ kind: 'signalled', signal: exit.signal, stdout });
      finish({ kind: 'exited', code: exit?.code ?? -1, stdout });
    });

    // A script that exits without reading its input makes the write fail with EPIPE; its exit status tells the story.
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input);
  });
}
