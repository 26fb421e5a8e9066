import type { GrantView } from '../../api/views/index.js';
import { durationFlag, idArg } from '../args.js';
import { usageError } from '../cli-error.js';
import { grantWhen } from '../render.js';
import { shortTime } from '../output.js';
import { defineCommand, seg } from '../run.js';

export const extendCommand = defineCommand({
  name: 'extend',
  summary: 'Add time to your active grant',
  usage: `Usage: stint extend GRANT --by DURATION

Adds DURATION to the expiry of your active GRANT. A grant never lasts past
its profile's maximum counted from when it became active; asking for more
is refused (exit 2), never silently shortened.

Options:
  --by DURATION   how much longer: 15m, 1h (required)

Example:
  stint extend gr_0123456789ab --by 15m`,
  parse: { positionals: ['GRANT'], options: { by: { type: 'string' } } },
  async run({ args, out, client, now }) {
    const id = idArg('grant', args.positionals[0]!);
    const byText = args.string('by');
    if (byText === undefined) throw usageError('--by is required: how much longer you need it, e.g. --by 15m');
    const by = durationFlag('by', byText);
    const res = await client().post<{ grant: GrantView }>(`/v1/grants/${seg(id)}/extend`, { by: by.text });
    if (out.json) {
      out.document(res);
      return 0;
    }
    const g = res.grant;
    out.line(
      `${g.id} extended by ${by.text}: expires ${grantWhen(g, now())}${g.expiresAt ? ` (${shortTime(g.expiresAt)})` : ''}; max ${g.maxDuration} from activation`,
    );
    return 0;
  },
});
