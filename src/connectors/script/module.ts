import type { ConnectorFactory } from '../contract.js';
import { createConnector } from '../kit/create.js';
import type { ConnectorModule } from '../module.js';
import { defineModule } from '../module.js';
import { openScript } from './connector.js';
import { checkText, scriptSettingsResolved, scriptSettingsShape } from './settings.js';

export const scriptModule: ConnectorModule = defineModule({
  kind: 'script',
  settings: scriptSettingsShape,
  schema: scriptSettingsResolved,
  modes: ['ephemeral-account', 'own-account'],
  // Names and grants travel only inside the JSON request, so any one line of
  // text is safe; what the device accepts is the script's to check.
  checkGrant: (g) => checkText('a grant', g, 1024),
  checkAccount: (a) => checkText('an account name', a),
  open: openScript,
});

/** A script connector, as the broker makes one (settings parsed, operations wrapped). */
export const createScriptConnector: ConnectorFactory = (input) => createConnector(scriptModule, input);
