// Session records of the SSH gateway: one JSON-lines file per SSH connection
// (DIR/<sessionId>.jsonl, 0600) written as the session goes — a `session`
// line, a `channel` line when a shell, command, subsystem or forward starts,
// a `channel-end` line with its exit status, and an `end` line — plus one
// asciicast v2 file per terminal (DIR/<sessionId>-<channel>.cast). Recent
// sessions are kept in memory too.

import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface SshChannelRecord {
  channel: number;
  at: string;
  kind: 'shell' | 'exec' | 'subsystem' | 'direct-tcpip';
  /** exec: the command line; subsystem: its name; direct-tcpip: HOST:PORT. */
  detail: string | null;
  pty: boolean;
  /** The asciicast file of a terminal channel. */
  recording: string | null;
  endedAt: string | null;
  exit: { code: number } | { signal: string } | null;
}

export interface SshSessionRecord {
  sessionId: string;
  user: string;
  profile: string;
  target: string;
  grantId: string;
  account: string;
  grantKind: 'session-bound' | 'existing';
  client: string;
  /** SHA256 fingerprint of the public key the person logged in with. */
  clientKey: string;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  channels: SshChannelRecord[];
}

export interface SshSessionLogHandle {
  readonly record: SshSessionRecord;
  castFile(channel: number): string;
  channel(c: Omit<SshChannelRecord, 'endedAt' | 'exit'>): void;
  channelEnd(channel: number, at: number, exit: SshChannelRecord['exit']): void;
  end(input: { at: number; reason: string }): Promise<void>;
}

export interface SshSessionLog {
  open(header: Omit<SshSessionRecord, 'endedAt' | 'endReason' | 'channels'>): Promise<SshSessionLogHandle>;
  list(): SshSessionRecord[];
  get(sessionId: string): SshSessionRecord | undefined;
  fileOf(sessionId: string): string;
}

export function createSshSessionLog(opts: { dir: string; keepSessions?: number; keepChannels?: number }): SshSessionLog {
  const keepSessions = opts.keepSessions ?? 500;
  const keepChannels = opts.keepChannels ?? 200;
  const recent: SshSessionRecord[] = [];
  let dirReady: Promise<unknown> | null = null;
  const fileOf = (id: string) => join(opts.dir, `${id}.jsonl`);

  async function open(header: Parameters<SshSessionLog['open']>[0]): Promise<SshSessionLogHandle> {
    dirReady ??= mkdir(opts.dir, { recursive: true, mode: 0o700 });
    await dirReady;
    const record: SshSessionRecord = { ...header, endedAt: null, endReason: null, channels: [] };
    const out: WriteStream = createWriteStream(fileOf(header.sessionId), { flags: 'wx', mode: 0o600 });
    out.on('error', () => {});
    const write = (o: object) => out.write(`${JSON.stringify(o)}\n`);
    write({ type: 'session', ...header });
    recent.unshift(record);
    if (recent.length > keepSessions) {
      const i = recent.findLastIndex((r) => r.endedAt !== null);
      if (i >= 0) recent.splice(i, 1);
    }
    return {
      record,
      castFile: (n) => join(opts.dir, `${header.sessionId}-${n}.cast`),
      channel(c) {
        write({ type: 'channel', sessionId: header.sessionId, ...c });
        record.channels.push({ ...c, endedAt: null, exit: null });
        if (record.channels.length > keepChannels) record.channels.shift();
      },
      channelEnd(channel, at, exit) {
        const endedAt = new Date(at).toISOString();
        write({ type: 'channel-end', sessionId: header.sessionId, channel, endedAt, exit });
        const c = record.channels.find((x) => x.channel === channel);
        if (c) Object.assign(c, { endedAt, exit });
      },
      async end(input) {
        record.endedAt = new Date(input.at).toISOString();
        record.endReason = input.reason;
        write({ type: 'end', sessionId: header.sessionId, endedAt: record.endedAt, reason: input.reason });
        await new Promise<void>((resolve) => out.end(resolve));
      },
    };
  }

  return { open, list: () => [...recent], get: (id) => recent.find((r) => r.sessionId === id), fileOf };
}
