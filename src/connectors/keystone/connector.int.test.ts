import { connectorContractSuite } from '../testing/contract-suite.js';
import { keystoneHarness } from './testing/keystone-test-env.js';

// Strict policy (enforce_scope + enforce_new_defaults) with a system-scoped
// admin over HTTPS verified against a private CA. The legacy policy (a
// project-scoped admin over HTTP) runs the same connector calls through the
// tokens, specifics and reconcile files; the two modes differ only in the
// admin token's scope, so the 16 contract cases once are enough (each takes
// tens of seconds on a loaded machine: Keystone spends ~100 ms of CPU a call).
connectorContractSuite({ name: 'keystone (strict policy, HTTPS)', setup: () => keystoneHarness('strict') });
