import type { ProfileView } from '../../api/views/index.js';
import { table, truncate } from '../output.js';
import { defineCommand } from '../run.js';

export const profilesCommand = defineCommand({
  name: 'profiles',
  summary: 'List the profiles you may request, and what each needs',
  usage: `Usage: stint profiles [--all]

Lists the profiles a policy lets you request: target, delivery mode, the
longest duration you may ask for, and what approval it needs.

Options:
  --all    admins: also profiles no policy lets you request

Examples:
  stint profiles
  stint profiles --json | jq -r '.profiles[].name'`,
  parse: { options: { all: { type: 'boolean' } } },
  async run({ args, out, client }) {
    const res = await client().get<{ profiles: ProfileView[] }>('/v1/profiles', args.boolean('all') ? { all: 'true' } : {});
    if (out.json) {
      out.document(res);
      return 0;
    }
    if (res.profiles.length === 0) {
      out.line('No profiles you may request. Ask an admin for a policy that covers you.');
      return 0;
    }
    out.line(
      table(
        res.profiles,
        [
          { header: 'NAME', value: (p) => p.name },
          { header: 'TARGET', value: (p) => `${p.target} (${p.targetKind})${p.critical ? ' !' : ''}` },
          { header: 'MODE', value: (p) => p.mode },
          { header: 'MAX', value: (p) => p.maxDuration },
          { header: 'APPROVAL', value: (p) => p.approval },
          { header: 'NEEDS', value: (p) => [p.requireReason ? 'reason' : '', p.requireTicket ? 'ticket' : ''].filter(Boolean).join(', ') || '-' },
          { header: 'DESCRIPTION', value: (p) => truncate(p.description, 60) },
        ],
        out.color,
      ),
    );
    if (res.profiles.some((p) => p.critical)) out.line('\n! critical target');
    return 0;
  },
});
