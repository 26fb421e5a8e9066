// Every target kind maps to its connector factory; a kind without an
// implementation does not compile.

import type { TargetKind } from '../core/types.js';
import type { ConnectorFactory } from './contract.js';
import { createPostgresConnector } from './postgres/postgres-connector.js';

export const connectorFactories: Record<TargetKind, ConnectorFactory> = {
  postgres: createPostgresConnector,
};
