// What an SFTP subsystem or a legacy scp (`scp -t` / `scp -f`) channel does
// to files, read off the bytes the gateway relays: which paths were read,
// written, renamed or removed, and how many bytes moved. The relay itself is
// untouched (bytes pass as they come); these only watch both directions.
//
// SFTP (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks): a packet is
// uint32 length, byte type, uint32 request id, then fields. Only the first
// PREFIX bytes of a packet are kept (enough for two PATH_MAX paths); the rest
// (file data) is counted and dropped, so a large WRITE or DATA costs no memory.

/** One file operation of a channel, as recorded. */
export interface FileOp {
  /** read: a file's bytes went to the client; write: from it; rename, remove, mkdir, rmdir: as named. */
  op: 'read' | 'write' | 'rename' | 'remove' | 'mkdir' | 'rmdir';
  path: string;
  /** rename: the new path. */
  to?: string;
  /** read/write: bytes moved (SFTP: the target confirmed; scp: as announced and sent). */
  bytes?: number;
  /** false when the target answered with an error (SFTP STATUS other than OK). */
  ok: boolean;
}

export interface FileOpTap {
  /** Bytes from the client toward the target. */
  fromClient(d: Buffer): void;
  /** Bytes from the target toward the client. */
  fromTarget(d: Buffer): void;
  /** Channel closed: files still open are reported with what moved so far. */
  end(): void;
}

const PREFIX = 16 * 1024;

/** Splits a byte stream into SFTP packets, keeping each one's first PREFIX bytes. */
function packetReader(onPacket: (head: Buffer, length: number) => void): (d: Buffer) => void {
  let lenBuf = Buffer.alloc(0);
  let length = -1;
  let head: Buffer[] = [];
  let headLen = 0;
  let seen = 0;
  return (d) => {
    let i = 0;
    while (i < d.length) {
      if (length < 0) {
        const take = Math.min(4 - lenBuf.length, d.length - i);
        lenBuf = Buffer.concat([lenBuf, d.subarray(i, i + take)]);
        i += take;
        if (lenBuf.length < 4) return;
        length = lenBuf.readUInt32BE(0);
        lenBuf = Buffer.alloc(0);
        head = [];
        headLen = 0;
        seen = 0;
      }
      const take = Math.min(length - seen, d.length - i);
      const keep = Math.min(take, PREFIX - headLen);
      if (keep > 0) {
        head.push(d.subarray(i, i + keep));
        headLen += keep;
      }
      seen += take;
      i += take;
      if (seen === length) {
        const l = length;
        length = -1;
        onPacket(Buffer.concat(head), l);
      }
    }
  };
}

/** Reads SFTP fields from a packet's kept prefix; null past its end. */
class Fields {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  u8(): number | null {
    if (this.at + 1 > this.b.length) return null;
    return this.b[this.at++]!;
  }
  u32(): number | null {
    if (this.at + 4 > this.b.length) return null;
    const v = this.b.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  /** A string's declared length, without reading it (file data). */
  dataLength(): number | null {
    return this.u32();
  }
  bytes(): Buffer | null {
    const n = this.u32();
    if (n === null || this.at + n > this.b.length) return null;
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  skip(n: number): boolean {
    this.at += n;
    return this.at <= this.b.length;
  }
}

const T = { OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, REMOVE: 13, MKDIR: 14, RMDIR: 15, RENAME: 18, EXTENDED: 200 };
const R = { STATUS: 101, HANDLE: 102, DATA: 103 };

/** Paths as recorded: UTF-8 as sent (the log escapes the rest when it is shown). */
const text = (b: Buffer) => b.toString('utf8');

export function sftpTap(record: (op: FileOp) => void): FileOpTap {
  interface OpenFile {
    path: string;
    read: number;
    written: number;
    /** Opened for writing (SSH_FXF_WRITE): an empty file written is a write of 0 bytes. */
    writing: boolean;
  }
  const files = new Map<string, OpenFile>();
  type Pending =
    | { kind: 'open'; path: string; writing: boolean }
    | { kind: 'read'; handle: string }
    | { kind: 'write'; handle: string; bytes: number }
    | { kind: 'close'; handle: string }
    | { kind: 'simple'; op: FileOp };
  // Bounded like the server's own queue: a client that never reads its answers cannot grow this without limit.
  const pending = new Map<number, Pending>();
  const maxPending = 4096;
  const report = (f: OpenFile) => {
    if (f.written > 0 || (f.read === 0 && f.writing)) record({ op: 'write', path: f.path, bytes: f.written, ok: true });
    if (f.read > 0 || (f.written === 0 && !f.writing)) record({ op: 'read', path: f.path, bytes: f.read, ok: true });
  };

  const fromClient = packetReader((head) => {
    const f = new Fields(head);
    const type = f.u8();
    const id = f.u32();
    if (type === null || id === null || pending.size >= maxPending) return;
    const handleKey = () => f.bytes()?.toString('hex') ?? null;
    let p: Pending | null = null;
    if (type === T.OPEN) {
      const path = f.bytes();
      const flags = f.u32();
      if (path && flags !== null) p = { kind: 'open', path: text(path), writing: (flags & 2) !== 0 };
    } else if (type === T.READ) {
      const h = handleKey();
      if (h) p = { kind: 'read', handle: h };
    } else if (type === T.WRITE) {
      const h = handleKey();
      const n = h !== null && f.skip(8) ? f.dataLength() : null;
      if (h && n !== null) p = { kind: 'write', handle: h, bytes: n };
    } else if (type === T.CLOSE) {
      const h = handleKey();
      if (h) p = { kind: 'close', handle: h };
    } else if (type === T.REMOVE || type === T.MKDIR || type === T.RMDIR) {
      const path = f.bytes();
      const op = type === T.REMOVE ? 'remove' : type === T.MKDIR ? 'mkdir' : 'rmdir';
      if (path) p = { kind: 'simple', op: { op, path: text(path), ok: false } };
    } else if (type === T.RENAME || type === T.EXTENDED) {
      // OpenSSH's sftp renames with posix-rename@openssh.com when the server offers it.
      const name = type === T.EXTENDED ? f.bytes()?.toString('latin1') : 'rename';
      if (name === 'rename' || name === 'posix-rename@openssh.com') {
        const from = f.bytes();
        const to = f.bytes();
        if (from && to) p = { kind: 'simple', op: { op: 'rename', path: text(from), to: text(to), ok: false } };
      }
    }
    if (p) pending.set(id, p);
  });

  const fromTarget = packetReader((head) => {
    const f = new Fields(head);
    const type = f.u8();
    const id = f.u32();
    if (type === null || id === null) return;
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (type === R.HANDLE && p.kind === 'open') {
      const h = f.bytes();
      if (h) files.set(h.toString('hex'), { path: p.path, read: 0, written: 0, writing: p.writing });
    } else if (type === R.DATA && p.kind === 'read') {
      const n = f.dataLength();
      const file = files.get(p.handle);
      if (file && n !== null) file.read += n;
    } else if (type === R.STATUS) {
      const ok = f.u32() === 0;
      if (p.kind === 'write' && ok) {
        const file = files.get(p.handle);
        if (file) file.written += p.bytes;
      } else if (p.kind === 'close') {
        const file = files.get(p.handle);
        files.delete(p.handle);
        if (file) report(file);
      } else if (p.kind === 'simple') record({ ...p.op, ok });
      else if (p.kind === 'open') record({ op: p.writing ? 'write' : 'read', path: p.path, bytes: 0, ok: false });
    }
  });

  return {
    fromClient,
    fromTarget,
    end() {
      for (const f of files.values()) report(f);
      files.clear();
      pending.clear();
    },
  };
}

/**
 * The legacy scp protocol of `scp -O`: the command is `scp [-r] [-d] [-p] -t
 * PATH` (upload: the client sends the files) or `-f PATH` (download: the
 * target does). The sending side announces each file with `C<mode> <size>
 * <name>\n`, sends its bytes and a NUL; `D…`/`E` enter and leave directories,
 * `T…` carries times. Null when the command is not scp in that mode.
 */
export function scpTap(command: string, record: (op: FileOp) => void): FileOpTap | null {
  const words = command.trim().split(/\s+/);
  if (words[0] !== 'scp' || words.length < 3) return null;
  const flags = words.slice(1, -1);
  const upload = flags.includes('-t');
  if (upload === flags.includes('-f')) return null;
  if (flags.some((w) => !/^-[a-zA-Z]+$/.test(w))) return null;
  const base = words.at(-1)!;
  const many = flags.includes('-d') || flags.includes('-r');
  const dirs: string[] = [];
  let line: Buffer[] = [];
  let lineLen = 0;
  let current: { path: string; size: number; left: number } | null = null;
  let broken = false;
  // `scp f host:/tmp/` sends `scp -t /tmp/` without -d: a target that names a directory gets the announced name.
  const intoDir = upload && (base.endsWith('/') || base === '.' || base === '~');
  const joinPath = (name: string) =>
    many || dirs.length ? [base, ...dirs, name].join('/') : intoDir ? `${base.replace(/\/+$/, '') || '/'}/${name}`.replace(/^\/\//, '/') : base;
  const finish = (c: { path: string; size: number; left: number }, ok: boolean) =>
    record({ op: upload ? 'write' : 'read', path: c.path, bytes: c.size - c.left, ok });

  const sender = (d: Buffer) => {
    let i = 0;
    while (i < d.length && !broken) {
      if (current) {
        // The file's bytes, then one status byte (NUL) that ends it.
        const take = Math.min(current.left, d.length - i);
        current.left -= take;
        i += take;
        if (current.left === 0 && i < d.length) {
          finish(current, d[i] === 0);
          current = null;
          i++;
        }
        continue;
      }
      const nl = d.indexOf(0x0a, i);
      const end = nl < 0 ? d.length : nl;
      if (lineLen + end - i > PREFIX) {
        broken = true; // not scp's protocol: stop reading rather than buffer it
        return;
      }
      line.push(d.subarray(i, end));
      lineLen += end - i;
      i = end;
      if (nl < 0) return;
      i++;
      const l = Buffer.concat(line).toString('utf8');
      line = [];
      lineLen = 0;
      const m = /^([CD])[0-7]{4} (\d+) (.+)$/.exec(l);
      if (m && m[1] === 'C') current = { path: joinPath(m[3]!), size: Number(m[2]), left: Number(m[2]) };
      else if (m && m[1] === 'D') dirs.push(m[3]!);
      else if (l === 'E') dirs.pop();
    }
  };
  const none = () => {};
  return {
    fromClient: upload ? sender : none,
    fromTarget: upload ? none : sender,
    end() {
      if (current) finish(current, false);
      current = null;
    },
  };
}
