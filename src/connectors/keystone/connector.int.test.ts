import { connectorContractSuite } from '../testing/contract-suite.js';
import { keystoneHarness } from './testing/keystone-test-env.js';

// Legacy policy with a project-scoped admin over HTTP; strict policy
// (enforce_scope + enforce_new_defaults) with a system-scoped admin over HTTPS
// verified against a private CA.
connectorContractSuite({ name: 'keystone (legacy policy)', setup: () => keystoneHarness('legacy') });
connectorContractSuite({ name: 'keystone (strict policy, HTTPS)', setup: () => keystoneHarness('strict') });
