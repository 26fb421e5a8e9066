// The broker acting on its own: expiry, config changes, a gateway ending the
// grant of a session that closed. One definition, so every such change is
// audited under the same name.

import type { UserDef } from './types.js';

export const systemActor: UserDef = { name: 'stint', groups: [], accounts: {}, roles: ['admin'], admin: true };
