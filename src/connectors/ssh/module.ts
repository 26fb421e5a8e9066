import type { ConnectorFactory } from '../contract.js';
import { createConnector } from '../kit/create.js';
import type { ConnectorModule } from '../module.js';
import { defineModule } from '../module.js';
import { openSsh } from './connector.js';
import { checkEphemeralName, checkExistingName, parseGrant } from './names.js';
import { sshSettingsSchema, sshSettingsShape } from './settings.js';

export const sshModule: ConnectorModule = defineModule({
  kind: 'ssh',
  settings: sshSettingsShape,
  schema: sshSettingsSchema,
  modes: ['ephemeral-account', 'own-account'],
  // The marker group's name is per target; checked again by the connector.
  checkGrant: (g) => {
    const r = parseGrant(g, '');
    return typeof r === 'string' ? r : null;
  },
  checkAccount: (a) => checkExistingName(a),
  checkAdminUser: (u) => (checkEphemeralName(u) ? 'adminUser must be a plain POSIX user name' : null),
  open: openSsh,
});

/** An ssh connector, as the broker makes one (settings parsed, operations wrapped). */
export const createSshConnector: ConnectorFactory = (input) => createConnector(sshModule, input);
