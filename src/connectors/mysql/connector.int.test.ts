// The MariaDB connector against a real server (MariaDB 10.11 in tests),
// running as a least-privileged admin: the shared contract suite, then what is
// specific to MariaDB (session kills, roles on own accounts, hostile hosts,
// the event-scheduler expiry backstop, outages).

import { connectorContractSuite } from '../testing/contract-suite.js';
import { createMysqlTestEnv, mysqlHarness } from './testing/mysql-test-env.js';

connectorContractSuite({
  name: 'mysql',
  setup: async () => mysqlHarness(await createMysqlTestEnv()),
});
