import type { GrantView } from '../../api/views/index.js';
import { grantStatuses } from '../../core/types.js';
import { intFlag } from '../args.js';
import { usageError } from '../cli-error.js';
import { grantsTable } from '../render.js';
import { defineCommand } from '../run.js';

const statuses: readonly string[] = grantStatuses;

export const grantsCommand = defineCommand({
  name: 'grants',
  summary: "List grants that hold access now (yours, or everyone's)",
  usage: `Usage: stint grants [--all] [--history] [--status S] [--target T] [--limit N]

Lists your grants that may hold access right now (provisioning, active,
revoking, revoke-failing), with the time left on active ones.

Options:
  --all        everyone's grants (admins)
  --history    also grants that have ended
  --status S   only this status: ${statuses.join(', ')}
  --target T   only grants on this target
  --limit N    at most N (1-5000, default 500)

Examples:
  stint grants
  stint grants --all --status revoke-failing
  stint grants --json | jq -r '.grants[] | select(.status=="active") | .id'`,
  parse: {
    options: { all: { type: 'boolean' }, history: { type: 'boolean' }, status: { type: 'string' }, target: { type: 'string' }, limit: { type: 'string' } },
  },
  async run({ args, out, client, now }) {
    const status = args.string('status');
    if (status !== undefined && !statuses.includes(status)) throw usageError(`--status must be one of ${statuses.join(', ')}; got ${JSON.stringify(status)}`);
    const limitText = args.string('limit');
    const query = {
      all: args.boolean('all') ? 'true' : undefined,
      history: args.boolean('history') ? 'true' : undefined,
      status,
      target: args.string('target'),
      limit: limitText === undefined ? undefined : intFlag('limit', limitText, 1, 5000),
    };
    const res = await client().get<{ grants: GrantView[] }>('/v1/grants', query);
    if (out.json) {
      out.document(res);
      return 0;
    }
    if (res.grants.length === 0) {
      out.line(args.boolean('history') || status ? 'No grants.' : 'No grants hold access now. Ask for one with: stint request PROFILE --for 30m');
      return 0;
    }
    out.line(grantsTable(out, res.grants, now(), args.boolean('all')));
    const failing = res.grants.filter((g) => g.status === 'revoke-failing').length;
    if (failing > 0) out.note(`stint: ${failing} grant${failing > 1 ? 's are' : ' is'} revoke-failing; Stint keeps retrying until the target confirms`);
    return 0;
  },
});
