import type { OutcomeView } from '../../api/views/index.js';
import { idArg } from '../args.js';
import { usageError } from '../cli-error.js';
import { requestSummary } from '../render.js';
import { defineCommand, seg } from '../run.js';

export const denyCommand = defineCommand({
  name: 'deny',
  summary: 'Deny a pending request, saying why',
  usage: `Usage: stint deny REQUEST --comment TEXT

Denies REQUEST. One deny ends it, whatever approvals it already has.

Options:
  --comment TEXT   why (required; the requester sees it)

Example:
  stint deny req_0123456789ab --comment "use the read-only profile"`,
  parse: { positionals: ['REQUEST'], options: { comment: { type: 'string' } } },
  async run({ args, out, client, now }) {
    const id = idArg('request', args.positionals[0]!);
    const comment = args.string('comment');
    if (comment === undefined || comment.trim() === '') throw usageError('--comment is required to deny a request: tell the requester why');
    const res = await client().post<OutcomeView>(`/v1/requests/${seg(id)}/deny`, { comment });
    if (out.json) out.document(res);
    else out.line(requestSummary(out, res.request, now()));
    return 0;
  },
});
