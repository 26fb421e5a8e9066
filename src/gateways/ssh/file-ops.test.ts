import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scpTap, sftpTap, type FileOp } from './file-ops.js';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const str = (s: string | Buffer) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
const packet = (type: number, id: number, ...fields: Buffer[]) => {
  const body = Buffer.concat([Buffer.from([type]), u32(id), ...fields]);
  return Buffer.concat([u32(body.length), body]);
};
const u64 = (n: number) => Buffer.concat([u32(0), u32(n)]);

/** Feeds `data` in the given chunk sizes (cycled). */
function feed(to: (d: Buffer) => void, data: Buffer, sizes: number[]) {
  let i = 0;
  let k = 0;
  while (i < data.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    to(data.subarray(i, i + n));
    i += n;
  }
}

describe('ssh gateway: file operations read off SFTP and scp', () => {
  // A put of 70000 bytes in two writes, a get of it in two reads, a rename, a failed remove.
  const h = Buffer.from('h1');
  const g = Buffer.from('h2');
  const data = Buffer.alloc(40_000, 1);
  const client = Buffer.concat([
    packet(3, 1, str('/home/a/up'), u32(0x1a), u32(0)),
    packet(6, 2, str(h), u64(0), str(data)),
    packet(6, 3, str(h), u64(40_000), str(data.subarray(0, 30_000))),
    packet(4, 4, str(h)),
    packet(3, 5, str('/home/a/up'), u32(1), u32(0)),
    packet(5, 6, str(g), u64(0), u32(65_536)),
    packet(5, 7, str(g), u64(65_536), u32(65_536)),
    packet(4, 8, str(g)),
    packet(200, 9, str('posix-rename@openssh.com'), str('/home/a/up'), str('/home/a/x')),
    packet(13, 10, str('/etc/passwd')),
  ]);
  const ok = (id: number) => packet(101, id, u32(0), str(''), str(''));
  const target = Buffer.concat([
    packet(102, 1, str(h)),
    ok(2),
    ok(3),
    ok(4),
    packet(102, 5, str(g)),
    packet(103, 6, str(data)),
    packet(103, 7, str(data.subarray(0, 30_000))),
    ok(8),
    ok(9),
    packet(101, 10, u32(3), str('Permission denied'), str('')),
  ]);
  const expected: FileOp[] = [
    { op: 'write', path: '/home/a/up', bytes: 70_000, ok: true },
    { op: 'read', path: '/home/a/up', bytes: 70_000, ok: true },
    { op: 'rename', path: '/home/a/up', to: '/home/a/x', ok: true },
    { op: 'remove', path: '/etc/passwd', ok: false },
  ];

  it('SFTP: the same records however the bytes are split', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }), (sizes) => {
        const got: FileOp[] = [];
        const tap = sftpTap((op) => got.push(op));
        // Requests go out before their answers come back, as on the wire.
        feed(tap.fromClient, client, sizes);
        feed(tap.fromTarget, target, sizes.toReversed());
        tap.end();
        assert.deepEqual(got, expected);
      }),
      { numRuns: 200 },
    );
  });

  it('SFTP: garbage and hostile lengths record nothing false and keep no more than a packet prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.uint8Array({ maxLength: 4096 }), (a, b) => {
        const got: FileOp[] = [];
        const tap = sftpTap((op) => got.push(op));
        tap.fromClient(Buffer.from(a));
        tap.fromTarget(Buffer.from(b));
        tap.end();
        for (const op of got) assert.ok(['read', 'write', 'rename', 'remove', 'mkdir', 'rmdir'].includes(op.op));
      }),
      { numRuns: 300 },
    );
    // A declared 4 GiB packet: its bytes stream through, none of them kept past the prefix.
    const tap = sftpTap(() => assert.fail('nothing to record'));
    tap.fromClient(Buffer.concat([u32(0xffffffff), Buffer.from([6])]));
    for (let i = 0; i < 64; i++) tap.fromClient(Buffer.alloc(1 << 20));
    tap.end();
  });

  it('legacy scp: uploads (-t) and downloads (-f), directories with -r, an unfinished file as failed', () => {
    const got: FileOp[] = [];
    const up = scpTap('scp -t up.txt', (op) => got.push(op))!;
    feed(up.fromClient, Buffer.from('C0644 5 local.txt\nhello\0'), [3]);
    up.end();
    const rec = scpTap('scp -r -t dest', (op) => got.push(op))!;
    feed(rec.fromClient, Buffer.from('D0755 0 d\nC0600 2 a\nhi\0E\nC0600 1 b\nx\0'), [1]);
    rec.end();
    for (const dir of ['/tmp/', '.', '/']) {
      const into = scpTap(`scp -t ${dir}`, (op) => got.push(op))!;
      feed(into.fromClient, Buffer.from('C0644 2 f.txt\nok\0'), [4]);
      into.end();
    }
    const down = scpTap('scp -f /etc/hosts', (op) => got.push(op))!;
    down.fromClient(Buffer.from('\0\0\0'));
    down.fromTarget(Buffer.from('C0644 10 hosts\n12345'));
    down.end();
    assert.deepEqual(got, [
      { op: 'write', path: 'up.txt', bytes: 5, ok: true },
      { op: 'write', path: 'dest/d/a', bytes: 2, ok: true },
      { op: 'write', path: 'dest/b', bytes: 1, ok: true },
      { op: 'write', path: '/tmp/f.txt', bytes: 2, ok: true },
      { op: 'write', path: './f.txt', bytes: 2, ok: true },
      { op: 'write', path: '/f.txt', bytes: 2, ok: true },
      { op: 'read', path: '/etc/hosts', bytes: 5, ok: false },
    ]);
    for (const cmd of ['ls -t x', 'scp -t', 'scp -t -f x', 'scp x y', 'scp --t x'])
      assert.equal(
        scpTap(cmd, () => {}),
        null,
        cmd,
      );
  });
});
