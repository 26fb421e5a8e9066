import type { ConnectorFactory } from '../contract.js';
import { createConnector } from '../kit/create.js';
import type { ConnectorModule } from '../module.js';
import { defineModule } from '../module.js';
import { openPostgres } from './connector.js';
import { postgresSettingsSchema, postgresSettingsShape } from './settings.js';

/** PostgreSQL identifiers: any text but NUL, at most 63 bytes (longer names would be truncated silently). */
function checkIdentifier(what: string, v: string): string | null {
  if (v.length === 0) return `${what} must not be empty`;
  if (v.includes('\0')) return `${what} must not contain a NUL character`;
  if (Buffer.byteLength(v, 'utf8') > 63) return `longer than 63 bytes (PostgreSQL's identifier limit)`;
  return null;
}

export const postgresModule: ConnectorModule = defineModule({
  kind: 'postgres',
  settings: postgresSettingsShape,
  schema: postgresSettingsSchema,
  modes: ['ephemeral-account', 'own-account'],
  checkGrant: (g) => checkIdentifier('a role name', g),
  checkAccount: (a) => checkIdentifier('a role name', a),
  checkAdminUser: (u) => (u ? null : 'adminUser is required'),
  open: openPostgres,
});

/** A postgres connector, as the broker makes one (settings parsed, operations wrapped). */
export const createPostgresConnector: ConnectorFactory = (input) => createConnector(postgresModule, input);
