// Where every connector is made: the kind's settings are parsed with its one
// schema (settings.ts), the admin user checked, and the kind's operations put
// inside the shared operation wrapper. The broker (target-connectors.ts) and
// every test harness create connectors here, so both run the same code.

import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import type { Connector, ConnectorFactoryInput } from '../contract.js';
import type { ConnectorModule } from '../module.js';
import { withOperations, type OperationTiming } from './operation.js';

export interface CreateConnectorInput extends ConnectorFactoryInput {
  /** Called once per finished operation with its duration and outcome. */
  observe?: (t: OperationTiming) => void;
}

export function createConnector(m: ConnectorModule, input: CreateConnectorInput): Connector {
  const where = `${m.kind} target ${JSON.stringify(input.target)}`;
  const parsed = m.schema.safeParse(input.settings);
  if (!parsed.success) throw invalid(`${where}: invalid settings: ${z.prettifyError(parsed.error)}`);
  const why = m.checkAdminUser?.(input.adminUser);
  if (why) throw invalid(`${where}: ${why}`);
  const impl = m.open({ ...input, settings: parsed.data });
  return withOperations({ kind: m.kind, target: input.target, adminSecret: input.adminSecret, ...(input.observe ? { observe: input.observe } : {}) }, impl);
}
