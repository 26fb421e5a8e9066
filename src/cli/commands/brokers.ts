import type { BrokersView } from '../../api/views/index.js';
import { table } from '../output.js';
import { defineCommand } from '../run.js';

export const brokersCommand = defineCommand({
  name: 'brokers',
  summary: 'List the brokers sharing the store, their config digests and the work each holds',
  usage: `Usage: stint brokers

Lists the brokers whose heartbeat is recent (admins, auditors): id, address,
version, the first 12 hex digits of the sha256 of its config file, when it
started and last beat, and how many grants it is provisioning or revoking
(its live claims). A broker that stopped beating drops out after the time
shown. Brokers running different configs are flagged.

Examples:
  stint brokers
  stint brokers --json | jq -r '.brokers[] | .id + " " + .configDigest'`,
  parse: { options: {} },
  async run({ out, client }) {
    const res = await client().get<BrokersView>('/v1/brokers');
    if (out.json) {
      out.document(res);
      return 0;
    }
    out.line(
      table(
        res.brokers,
        [
          { header: 'ID', value: (b) => `${b.id}${b.self ? ' *' : ''}` },
          { header: 'ADDRESS', value: (b) => b.address || '-' },
          { header: 'VERSION', value: (b) => b.version },
          { header: 'CONFIG', value: (b) => b.configDigest.slice(0, 12) },
          { header: 'STARTED', value: (b) => b.startedAt },
          { header: 'HEARTBEAT', value: (b) => b.lastHeartbeat },
          { header: 'HELD', value: (b) => String(b.heldGrants) },
        ],
        out.color,
      ),
    );
    out.line(`\n* the broker that answered; brokers drop out ${res.deadAfterSeconds} s after their last heartbeat`);
    if (res.configDigests > 1) out.line(`${res.configDigests} different configs are running: roll the same file out to every broker (docs/operations.md)`);
    return 0;
  },
});
