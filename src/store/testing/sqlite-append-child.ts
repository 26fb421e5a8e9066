// Child process for the two-process SQLite test: a second "broker" appending
// to the same database file. Arguments: <path> <count>. It says "ready" once
// open and starts on "go", so both processes really append at the same time.

import { once } from 'node:events';
import { openStore } from '../index.js';

const [path, count] = process.argv.slice(2);
const store = await openStore({ kind: 'sqlite', path: path! });
process.send?.('ready');
await once(process, 'message');
for (let i = 0; i < Number(count); i++) {
  await store.transaction(async (tx) => {
    // Read first, then write, like every real store transaction.
    await tx.getMeta('child');
    await tx.setMeta(`child${i}`, 'x');
    await tx.appendAudit({ at: i, actor: 'child', action: 'append' });
  });
}
await store.close();
process.disconnect?.();
