// Every target kind maps to its module; a kind without an implementation does
// not compile (Record over the TargetKind union). kit/create.ts makes a
// module's connector (settings parsed, operations wrapped).

import type { TargetKind } from '../core/types.js';
import type { ConnectorModule } from './module.js';
import { adModule } from './ad/module.js';
import { keystoneModule } from './keystone/module.js';
import { ldapModule } from './ldap/module.js';
import { mysqlModule } from './mysql/module.js';
import { postgresModule } from './postgres/module.js';
import { redisModule } from './redis/module.js';
import { scriptModule } from './script/module.js';
import { sshModule } from './ssh/module.js';

export const connectorModules: Record<TargetKind, ConnectorModule> = {
  postgres: postgresModule,
  mysql: mysqlModule,
  redis: redisModule,
  ssh: sshModule,
  ldap: ldapModule,
  script: scriptModule,
  keystone: keystoneModule,
  ad: adModule,
};

for (const [kind, m] of Object.entries(connectorModules)) {
  if (m.kind !== kind) throw new Error(`connector module for ${kind} says it is ${m.kind}`);
}
