import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseGroups, parsePasswd, parseUidLog, pickUid, reclaimCandidates } from './uid-state.js';

describe('ssh UID bookkeeping', () => {
  const range = { uidMin: 100, uidMax: 104 };

  it('reads the log with the latest line winning', () => {
    const log = parseUidLog('used 100 a\nretired 100\nused 101 b\nfree 100\ngarbage\nused 102 c\nretired 102\n');
    assert.deepEqual(
      [...log],
      [
        [100, 'free'],
        [101, 'used'],
        [102, 'retired'],
      ],
    );
  });

  it('hands out never-used or freed UIDs only, skipping passwd and reserved ones', () => {
    const log = parseUidLog('used 100 a\nretired 100\nused 101 b\n');
    assert.equal(pickUid(range, new Set([102]), log), 103);
    assert.equal(pickUid(range, new Set([102]), log, new Set([103])), 104);
    assert.equal(pickUid(range, new Set([102, 103, 104]), log), null);
    assert.deepEqual(reclaimCandidates(range, new Set([102, 103, 104]), log), [100, 101]);
    assert.equal(pickUid(range, new Set([101, 102, 103, 104]), parseUidLog('used 100 a\nretired 100\nfree 100\n')), 100);
  });

  it('parses passwd and group lines', () => {
    assert.deepEqual(parsePasswd('a:x:1:2:c d:/h:/bin/sh\nbad\n'), [{ name: 'a', uid: 1, gid: 2, gecos: 'c d', home: '/h', shell: '/bin/sh' }]);
    assert.deepEqual(parseGroups('g:x:5:a,b\nh:x:6:\n'), [
      { name: 'g', gid: 5, members: ['a', 'b'] },
      { name: 'h', gid: 6, members: [] },
    ]);
  });
});
