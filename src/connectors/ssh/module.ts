import type { ConnectorModule } from '../module.js';
import { checkExistingName, parseGrant } from './names.js';
import { sshSettingsShape } from './settings.js';
import { createSshConnector } from './connector.js';

export const sshModule: ConnectorModule = {
  kind: 'ssh',
  settings: sshSettingsShape,
  modes: ['ephemeral-account', 'own-account'],
  // The marker group's name is per target; checked again by the connector.
  checkGrant: (g) => {
    const r = parseGrant(g, '');
    return typeof r === 'string' ? r : null;
  },
  checkAccount: (a) => checkExistingName(a),
  create: createSshConnector,
};
