export { createSshGateway, type SshGateway, type SshGatewayDeps } from './gateway.js';
export type { SshSessionRecord, SshChannelRecord } from './session-log.js';
export { parseLoginName } from './login-name.js';
