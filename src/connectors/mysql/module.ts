import type { ConnectorModule } from '../module.js';
import { checkAccountText, checkGrant } from './grammar.js';
import { createMysqlConnector, mysqlSettingsSchema } from './connector.js';

export const mysqlModule: ConnectorModule = {
  kind: 'mysql',
  // host, port, accountHost, tls, markerRole, nativeExpiry, eventSchema, connectTimeoutMs, maxConnections (README.md).
  settings: mysqlSettingsSchema.shape,
  modes: ['ephemeral-account', 'own-account'],
  // A role name (no whitespace) or one privilege in canonical form: `SELECT ON app.*`, `INSERT ON app.orders`.
  checkGrant,
  // `user` or `user@host` (the last @ splits; hosts are lowercase).
  checkAccount: (a) => checkAccountText(a),
  create: createMysqlConnector,
};
