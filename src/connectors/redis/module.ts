import type { ConnectorFactory } from '../contract.js';
import { createConnector } from '../kit/create.js';
import type { ConnectorModule } from '../module.js';
import { defineModule } from '../module.js';
import { checkAccountName, checkGrant } from './acl-rules.js';
import { openRedis } from './connector.js';
import { redisSettingsSchema, redisSettingsShape } from './settings.js';

export const redisModule: ConnectorModule = defineModule({
  kind: 'redis',
  settings: redisSettingsShape,
  schema: redisSettingsSchema,
  modes: ['ephemeral-account', 'own-account'],
  checkGrant,
  checkAccount: checkAccountName,
  checkAdminUser: (u) => (u ? null : 'adminUser is required'),
  open: openRedis,
});

/** A redis connector, as the broker makes one (settings parsed, operations wrapped). */
export const createRedisConnector: ConnectorFactory = (input) => createConnector(redisModule, input);
