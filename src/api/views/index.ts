// Every shape the API answers with, as zod schemas declared once. The routes
// validate and document (OpenAPI) with them; the CLI and the web UI take
// their types from them with type-only imports (`import type`), so a change
// here fails their type-check, not a user. These files import nothing but
// zod and a few leaf modules of core, so the web's type-check stays small.

export * from './audit.js';
export * from './catalog.js';
export * from './errors.js';
export * from './grants.js';
export * from './identity.js';
export * from './reconcile.js';
export * from './requests.js';
export * from './sessions.js';
export * from './standing.js';
export * from './reports.js';
export * from './session-verify.js';
export * from './brokers.js';
