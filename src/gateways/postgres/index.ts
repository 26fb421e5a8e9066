export { createPostgresGateway, type PostgresGateway, type PostgresGatewayDeps } from './gateway.js';
export type { SessionRecord } from './session-log.js';
export type { StatementEntry } from './statement-tracker.js';
