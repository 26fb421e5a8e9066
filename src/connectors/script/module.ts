import type { ConnectorModule } from '../module.js';
import { createScriptConnector } from './connector.js';
import { checkText, scriptSettingsShape } from './settings.js';

export const scriptModule: ConnectorModule = {
  kind: 'script',
  settings: scriptSettingsShape,
  modes: ['ephemeral-account', 'own-account'],
  // Names and grants travel only inside the JSON request, so any one line of
  // text is safe; what the device accepts is the script's to check.
  checkGrant: (g) => checkText('a grant', g, 1024),
  checkAccount: (a) => checkText('an account name', a),
  create: createScriptConnector,
};
