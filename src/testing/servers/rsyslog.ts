// A real rsyslog for tests (Debian `rsyslog`): rsyslogd in the foreground on
// a free loopback port with its own config and work dir, imtcp receiving
// octet-counted RFC 5424 messages, omfile writing each message's structured
// data and text as one line to DIR/received.log for the test to read. It can
// be stopped and started again on the same port with the same file.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../embedded/free-port.js';

export const rsyslogd = '/usr/sbin/rsyslogd';

export interface RsyslogServer {
  port: number;
  /** Lines received so far: `[stint@32473 seq=".." hash=".."] {event JSON}`. */
  received(): Promise<string[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startRsyslog(): Promise<RsyslogServer> {
  if (!existsSync(rsyslogd)) throw new Error('rsyslogd not found: install the Debian package rsyslog');
  const dir = await mkdtemp(join(tmpdir(), 'stint-rsyslog-'));
  const port = await freePort();
  const out = join(dir, 'received.log');
  const conf = join(dir, 'rsyslog.conf');
  await writeFile(
    conf,
    `global(workDirectory="${dir}" maxMessageSize="256k")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="${port}")
template(name="line" type="string" string="%structured-data% %msg%\\n")
action(type="omfile" file="${out}" template="line" asyncWriting="off" flushOnTXEnd="on")
`,
  );
  let child: ChildProcess | null = null;
  let log = '';
  async function start(): Promise<void> {
    log = '';
    child = spawn(rsyslogd, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (log += String(d)));
    child.stderr!.on('data', (d) => (log += String(d)));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`rsyslogd exited: ${log}`);
      const up = await new Promise<boolean>((r) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => {
          s.destroy();
          r(true);
        });
        s.on('error', () => r(false));
      });
      if (up) return;
      if (Date.now() > deadline) throw new Error(`rsyslogd did not listen on ${port}: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async function stop(): Promise<void> {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await gone;
  }
  await start();
  return {
    port,
    async received() {
      try {
        return (await readFile(out, 'utf8')).split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    stop,
    start,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
