import type { OutcomeView } from '../../api/views/index.js';
import { idArg } from '../args.js';
import { grantBlock, requestSummary } from '../render.js';
import { defineCommand, seg } from '../run.js';

export const approveCommand = defineCommand({
  name: 'approve',
  summary: 'Approve a pending request (never your own)',
  usage: `Usage: stint approve REQUEST [--comment TEXT]

Records your approval of REQUEST. When it has all the approvals its policy
needs, the grant is delivered and printed.

Options:
  --comment TEXT   optional note kept in the audit trail

Examples:
  stint requests --approvable
  stint approve req_0123456789ab --comment "ok for INC-42"`,
  parse: { positionals: ['REQUEST'], options: { comment: { type: 'string' } } },
  async run({ args, out, client, now }) {
    const id = idArg('request', args.positionals[0]!);
    const comment = args.string('comment');
    const res = await client().post<OutcomeView>(`/v1/requests/${seg(id)}/approve`, comment !== undefined ? { comment } : {});
    if (out.json) {
      out.document(res);
      return 0;
    }
    if (res.request.status === 'pending') out.line(`recorded your approval; ${requestSummary(out, res.request, now())}`);
    else out.line(requestSummary(out, res.request, now()));
    if (res.grant) {
      out.line();
      out.line(grantBlock(out, res.grant, now()));
    }
    return 0;
  },
});
