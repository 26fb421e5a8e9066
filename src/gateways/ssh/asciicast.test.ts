import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventLine, headerLine, openAsciicast } from './asciicast.js';

describe('asciicast v2 writer', () => {
  it('header and events are the v2 shapes', () => {
    assert.deepEqual(JSON.parse(headerLine({ width: 80, height: 24, timestamp: 1700000000, env: { TERM: 'xterm' } })), {
      version: 2,
      width: 80,
      height: 24,
      timestamp: 1700000000,
      env: { TERM: 'xterm' },
    });
    assert.deepEqual(JSON.parse(eventLine(1.2345678, 'o', 'hi\r\n')), [1.234568, 'o', 'hi\r\n']);
    assert.equal(eventLine(0, 'r', '100x40'), '[0,"r","100x40"]\n');
  });

  it('writes a file asciinema can play: header, timed output, resizes; multibyte characters split across chunks stay whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-cast-'));
    try {
      let t = 1_700_000_000_500;
      const w = openAsciicast(join(dir, 's.cast'), { width: 120, height: 30, env: { TERM: 'xterm-256color' } }, { now: () => t });
      w.output(Buffer.from('$ echo é\r\n'));
      t += 250;
      const euro = Buffer.from('€');
      w.output(Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]));
      t += 250;
      w.output(euro.subarray(1));
      w.resize(100, 40);
      t += 1000;
      await w.close();
      w.output('after close is ignored');
      const lines = readFileSync(join(dir, 's.cast'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(lines[0], { version: 2, width: 120, height: 30, timestamp: 1_700_000_000, env: { TERM: 'xterm-256color' } });
      assert.deepEqual(lines.slice(1), [
        [0, 'o', '$ echo é\r\n'],
        [0.25, 'o', 'a'],
        [0.5, 'o', '€'],
        [0.5, 'r', '100x40'],
      ]);
      assert.equal(statSync(join(dir, 's.cast')).mode & 0o777, 0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never overwrites an existing recording', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-cast-'));
    try {
      const a = openAsciicast(join(dir, 'x.cast'), { width: 80, height: 24 });
      await a.close();
      const b = openAsciicast(join(dir, 'x.cast'), { width: 1, height: 1 });
      b.output('nope');
      await b.close();
      assert.equal(JSON.parse(readFileSync(join(dir, 'x.cast'), 'utf8').split('\n')[0]!).width, 80);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
