// GET /v1/brokers: the brokers sharing the store (admins, auditors).

import { StintError } from '../../core/errors.js';
import { brokerDeadAfterMs } from '../../core/brokers/broker-registry.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { brokersView } from '../views/index.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function brokerRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'GET',
      url: '/v1/brokers',
      tag: 'meta',
      auth: 'admin',
      summary: 'The brokers sharing this store: id, address, version, config digest, last heartbeat and the work each holds (admins, auditors)',
      response: brokersView,
      handler: async () => {
        if (!deps.brokers) throw new StintError('unavailable', 'this broker does not keep a heartbeat');
        const list = await deps.brokers.list();
        return {
          brokers: list.map((b) => ({
            id: b.id,
            address: b.address,
            version: b.version,
            configDigest: b.configDigest,
            startedAt: iso(b.startedAt),
            lastHeartbeat: iso(b.heartbeatAt),
            heldGrants: b.heldGrants,
            self: b.id === deps.brokers!.id,
          })),
          configDigests: new Set(list.map((b) => b.configDigest)).size,
          deadAfterSeconds: brokerDeadAfterMs / 1000,
        };
      },
    }),
  ];
}
