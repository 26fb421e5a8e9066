import type { GrantView } from '../../api/views/index.js';
import { idArg } from '../args.js';
import { exitCodes } from '../exit-codes.js';
import { status } from '../output.js';
import { defineCommand, seg } from '../run.js';

export const revokeCommand = defineCommand({
  name: 'revoke',
  summary: "End a grant now (check in yours, or revoke anyone's as admin)",
  usage: `Usage: stint revoke GRANT

Ends GRANT now and waits until the target confirms the access is gone.

Exit codes: 0 when the grant is revoked (access confirmed gone on the
target); 7 when revocation is failing or not yet confirmed — the grant is
then revoke-failing, and Stint keeps retrying until the target confirms
(it never gives up); watch it with stint grants.

Example:
  stint revoke gr_0123456789ab`,
  parse: { positionals: ['GRANT'] },
  async run({ args, out, client }) {
    const id = idArg('grant', args.positionals[0]!);
    const res = await client().post<{ grant: GrantView }>(`/v1/grants/${seg(id)}/revoke`);
    const g = res.grant;
    if (out.json) out.document(res);
    if (g.status === 'revoked') {
      out.line(`${g.id} ${status(out, 'revoked')}: access on ${g.target} removed (account ${g.account})`);
      return exitCodes.ok;
    }
    out.line(`${g.id} ${status(out, g.status)}${g.lastError ? `: ${g.lastError}` : ''}`);
    out.note(
      g.status === 'revoke-failing' || g.status === 'revoking'
        ? `stint: revocation of ${g.id} on ${g.target} is not confirmed yet; Stint keeps retrying until the target confirms (${g.attempts} attempt${g.attempts === 1 ? '' : 's'} so far). Watch it with: stint grants --status ${g.status}`
        : `stint: ${g.id} is ${g.status}, not revoked`,
    );
    return exitCodes.unavailable;
  },
});
