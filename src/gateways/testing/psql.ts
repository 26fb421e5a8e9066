// The real psql as a gateway test's client: one command, commands on stdin,
// or an interactive session left open. Every process started is killed by
// killAll() (a test's after hook).

import { spawn, type ChildProcess } from 'node:child_process';

export interface OpenPsql {
  proc: ChildProcess;
  /** Everything printed so far, stdout and stderr. */
  output: () => string;
  send: (s: string) => void;
}

export interface PsqlClients {
  /** psql -c: exit code, stdout and stderr (trimmed). */
  psql(conn: string, password: string, sql: string): Promise<{ code: number | null; out: string; err: string }>;
  /**
   * psql reading commands from stdin, in a session of its own (no controlling
   * terminal), so that \password reads the new password from stdin too.
   */
  psqlStdin(conn: string, password: string, input: string): Promise<{ code: number | null; out: string }>;
  /** An interactive psql, as a person would have open. */
  openPsql(conn: string, password: string): OpenPsql;
  /** Kills every psql still running. */
  killAll(): void;
}

export function psqlClients(): PsqlClients {
  const children: ChildProcess[] = [];
  const env = (password: string, timeout: boolean) => ({ PATH: process.env.PATH, PGPASSWORD: password, ...(timeout ? { PGCONNECT_TIMEOUT: '10' } : {}) });
  return {
    psql(conn, password, sql) {
      return new Promise((resolve) => {
        const p = spawn('psql', [conn, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env: env(password, true) });
        children.push(p);
        let out = '';
        let err = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (err += d));
        p.on('close', (code) => resolve({ code, out: out.trim(), err: err.trim() }));
      });
    },
    psqlStdin(conn, password, input) {
      return new Promise((resolve) => {
        const p = spawn('psql', [conn, '-X'], { env: env(password, true), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
        children.push(p);
        let out = '';
        p.stdout!.on('data', (d) => (out += d));
        p.stderr!.on('data', (d) => (out += d));
        p.on('close', (code) => resolve({ code, out }));
        p.stdin!.on('error', () => {});
        p.stdin!.end(input);
      });
    },
    openPsql(conn, password) {
      const proc = spawn('psql', [conn, '-X', '-A', '-t'], { env: env(password, false), stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(proc);
      let out = '';
      proc.stdout!.on('data', (d) => (out += d));
      proc.stderr!.on('data', (d) => (out += d));
      return { proc, output: () => out, send: (s) => proc.stdin!.write(s) };
    },
    killAll() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}
