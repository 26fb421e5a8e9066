// HAProxy (the Debian `haproxy` binary) in front of several brokers, for
// tests: started on free loopback ports with a config generated into its own
// temp dir, stopped after. The HTTP API is balanced in http mode with a
// health check on /readyz, retrying a request whose connection failed on
// another broker; the gateways in tcp mode (their TLS, if any, passes
// through). docs/operations.md ("Behind a load balancer") shows the same
// config for production.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../embedded/free-port.js';

export interface Backend {
  api: number;
  postgres?: number;
  ssh?: number;
}

export interface HaproxyServer {
  /** http://127.0.0.1:PORT of the API frontend. */
  url: string;
  apiPort: number;
  postgresPort: number;
  sshPort: number;
  config: string;
  stop(): Promise<void>;
}

/** The haproxy.cfg text for these brokers (all on 127.0.0.1). */
export function haproxyConfig(backends: readonly Backend[], ports: { api: number; postgres: number; ssh: number }): string {
  const servers = (port: (b: Backend) => number | undefined, extra: string) =>
    backends
      .map((b, i) => [i, port(b)] as const)
      .filter(([, p]) => p !== undefined)
      .map(([i, p]) => `  server broker${i + 1} 127.0.0.1:${p} check inter 500ms fall 1 rise 2${extra}`)
      .join('\n');
  return `global
  maxconn 2000
defaults
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  timeout check 2s
  # A request whose connection to a broker failed goes to another one.
  retries 3
  option redispatch 1
frontend api
  mode http
  bind 127.0.0.1:${ports.api}
  default_backend brokers_api
backend brokers_api
  mode http
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
${servers((b) => b.api, '')}
frontend postgres
  mode tcp
  bind 127.0.0.1:${ports.postgres}
  default_backend brokers_postgres
backend brokers_postgres
  mode tcp
  balance roundrobin
${servers((b) => b.postgres, '')}
frontend ssh
  mode tcp
  bind 127.0.0.1:${ports.ssh}
  default_backend brokers_ssh
backend brokers_ssh
  mode tcp
  balance roundrobin
${servers((b) => b.ssh, '')}
`;
}

export async function startHaproxy(backends: readonly Backend[]): Promise<HaproxyServer> {
  const dir = await mkdtemp(join(tmpdir(), 'stint-haproxy-'));
  const ports = { api: await freePort(), postgres: await freePort(), ssh: await freePort() };
  const config = haproxyConfig(backends, ports);
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config, { mode: 0o600 });
  let err = '';
  // -db: stay in the foreground, so the child is haproxy itself and SIGTERM stops it.
  const proc: ChildProcess = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${ports.api}`;
  // Ready when it answers through to a broker; a generous bound that only limits a failure.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await stop();
      throw new Error(`haproxy exited during start: ${err}`);
    }
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not pass a request to a broker within 60 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, apiPort: ports.api, postgresPort: ports.postgres, sshPort: ports.ssh, config, stop };
}
