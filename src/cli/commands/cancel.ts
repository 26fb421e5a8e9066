import type { RequestView } from '../../api/views/index.js';
import { idArg } from '../args.js';
import { requestSummary } from '../render.js';
import { defineCommand, seg } from '../run.js';

export const cancelCommand = defineCommand({
  name: 'cancel',
  summary: 'Withdraw your pending request',
  usage: `Usage: stint cancel REQUEST

Withdraws your own pending REQUEST. To end access you already have, use
stint revoke GRANT.

Example:
  stint cancel req_0123456789ab`,
  parse: { positionals: ['REQUEST'] },
  async run({ args, out, client, now }) {
    const id = idArg('request', args.positionals[0]!);
    const res = await client().post<{ request: RequestView }>(`/v1/requests/${seg(id)}/cancel`);
    if (out.json) out.document(res);
    else out.line(requestSummary(out, res.request, now()));
    return 0;
  },
});
