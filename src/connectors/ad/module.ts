import type { ConnectorFactory } from '../contract.js';
import { createConnector } from '../kit/create.js';
import type { ConnectorModule } from '../module.js';
import { defineModule } from '../module.js';
import { checkGrant, checkOwnAccount } from './ad-rules.js';
import { openAd } from './connector.js';
import { adSettingsSchema, adSettingsShape } from './settings.js';

export const adModule: ConnectorModule = defineModule({
  kind: 'ad',
  settings: adSettingsShape,
  schema: adSettingsSchema,
  modes: ['ephemeral-account', 'own-account'],
  checkGrant,
  checkAccount: checkOwnAccount,
  // A UPN, DOMAIN\name or DN; the DC's bind decides which it accepts.
  checkAdminUser: (u) => (u ? null : 'adminUser is required'),
  open: openAd,
});

/** An ad connector, as the broker makes one (settings parsed, operations wrapped). */
export const createAdConnector: ConnectorFactory = (input) => createConnector(adModule, input);
