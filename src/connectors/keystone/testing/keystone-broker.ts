// A real broker (createApp, SQLite store) with one keystone target on a test
// Keystone fixture: own-account and ephemeral profiles on the fixture's `app`
// project, and `alice`, whose own Keystone user is the fixture's person.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../../app.js';
import type { UserDef } from '../../../core/types.js';
import type { KeystoneFixture } from './keystone-test-env.js';

export interface KeystoneBroker {
  app: App;
  alice: UserDef;
  close(): Promise<void>;
}

export async function startKeystoneBroker(f: KeystoneFixture): Promise<KeystoneBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'stint-ks-'));
  await writeFile(join(dir, 'ks.secret'), f.server.adminPassword, { mode: 0o600 });
  const fields = Object.entries(f.settings())
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(', ');
  const member = JSON.stringify(`member@${f.app.name}`);
  await writeFile(
    join(dir, 'stint.yaml'),
    // No periodic reconcile: the tests run it themselves, and a run of its own in between would act first.
    `broker: { reconcileInterval: 24h }
targets:
  - { name: cloud, kind: keystone, ${fields}, admin: { user: admin, passwordFile: ks.secret } }
profiles:
  - { name: app-a, target: cloud, mode: own-account, grants: [${member}], maxDuration: 1h }
  - { name: app-b, target: cloud, mode: own-account, grants: [${member}], maxDuration: 1h }
  - { name: app-eph, target: cloud, mode: ephemeral-account, grants: [${member}], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["app-*"], approval: auto }
users:
  - { name: alice, groups: [], accounts: { cloud: ${JSON.stringify(f.own.name)} } }
`,
  );
  const app = await createApp({
    configPath: join(dir, 'stint.yaml'),
    dataDir: join(dir, 'data'),
    env: { STINT_MASTER_KEY: Buffer.alloc(32, 5).toString('base64') },
    logger: pino({ level: 'silent' }),
  });
  return {
    app,
    alice: app.catalog.users.get('alice') as UserDef,
    async close() {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
