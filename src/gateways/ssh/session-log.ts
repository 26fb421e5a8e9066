// The SSH gateway's session records (shared/session-log.ts): the `session`
// line, a `channel` line when a shell, command, subsystem or forward starts,
// a `channel-end` line with its exit status, and an `end` line — plus one
// asciicast v2 file per terminal (DIR/<sessionId>-<channel>.cast).

import type { RecordingDigest } from '../shared/recording-digest.js';
import type { StreamCopy } from '../shared/recording-copy.js';
import { createSessionRecords, type BaseSessionRecord, type RecordingCopyDeps } from '../shared/session-log.js';

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

export interface SshSessionRecord extends BaseSessionRecord {
  /** SHA256 fingerprint of the public key the person logged in with. */
  clientKey: string;
  /** How the person reached the gateway: `login` (user+profile@gateway) or `jump` (ssh -J). */
  via: 'login' | 'jump';
  channels: SshChannelRecord[];
}

export interface SshSessionLogHandle {
  readonly record: SshSessionRecord;
  castFile(channel: number): string;
  /** The store's copy of channel N's recording (null without one). */
  castCopy(channel: number): StreamCopy | null;
  channel(c: Omit<SshChannelRecord, 'endedAt' | 'exit'>): void;
  channelEnd(channel: number, at: number, exit: SshChannelRecord['exit']): void;
  end(input: { at: number; reason: string }): Promise<RecordingDigest | null>;
}

export interface SshSessionLog {
  open(header: Omit<SshSessionRecord, 'endedAt' | 'endReason' | 'channels'>): Promise<SshSessionLogHandle>;
  list(): SshSessionRecord[];
  get(sessionId: string): SshSessionRecord | undefined;
  fileOf(sessionId: string): string;
}

export function createSshSessionLog(opts: { dir: string; keepSessions?: number; keepChannels?: number; copy?: RecordingCopyDeps }): SshSessionLog {
  const keepChannels = opts.keepChannels ?? 200;
  const records = createSessionRecords<SshSessionRecord>({ dir: opts.dir, gateway: 'ssh', keepSessions: opts.keepSessions, copy: opts.copy });

  async function open(header: Parameters<SshSessionLog['open']>[0]): Promise<SshSessionLogHandle> {
    const record: SshSessionRecord = { ...header, endedAt: null, endReason: null, channels: [] };
    const file = await records.open(record, header);
    return {
      record,
      castFile: (n) => records.castFile(header.sessionId, n),
      castCopy: (n) => file.castCopy(n),
      channel(c) {
        file.write('channel', c);
        record.channels.push({ ...c, endedAt: null, exit: null });
        if (record.channels.length > keepChannels) record.channels.shift();
      },
      channelEnd(channel, at, exit) {
        const endedAt = new Date(at).toISOString();
        file.write('channel-end', { channel, endedAt, exit });
        const c = record.channels.find((x) => x.channel === channel);
        if (c) Object.assign(c, { endedAt, exit });
      },
      end: (input) => file.end(input),
    };
  }

  return { open, list: records.list, get: records.get, fileOf: records.fileOf };
}
