// The shared connector contract, against a real Samba AD domain controller.

import { connectorContractSuite } from '../testing/contract-suite.js';
import { adHarness, createAdTestEnv } from './testing/ad-test-env.js';

connectorContractSuite({ name: 'ad (Samba AD DC)', setup: async () => adHarness(await createAdTestEnv()) });
