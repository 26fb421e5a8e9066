import type { ConnectorFactory } from '../contract.js';
import { createConnector } from '../kit/create.js';
import type { ConnectorModule } from '../module.js';
import { defineModule } from '../module.js';
import { checkAccountText, checkGrant } from './grammar.js';
import { openMysql } from './connector.js';
import { mysqlSettingsSchema, mysqlSettingsShape } from './settings.js';

export const mysqlModule: ConnectorModule = defineModule({
  kind: 'mysql',
  // host, port, accountHost, tls, markerRole, nativeExpiry, eventSchema, connectTimeoutMs, maxConnections (README.md).
  settings: mysqlSettingsShape,
  schema: mysqlSettingsSchema,
  modes: ['ephemeral-account', 'own-account'],
  // A role name (no whitespace) or one privilege in canonical form: `SELECT ON app.*`, `INSERT ON app.orders`.
  checkGrant,
  // `user` or `user@host` (the last @ splits; hosts are lowercase).
  checkAccount: (a) => checkAccountText(a),
  checkAdminUser: (u) => (u ? null : 'adminUser is required'),
  open: openMysql,
});

/** A mysql connector, as the broker makes one (settings parsed, operations wrapped). */
export const createMysqlConnector: ConnectorFactory = (input) => createConnector(mysqlModule, input);
