import type { MeView } from '../../api/views/index.js';
import { fields } from '../output.js';
import { defineCommand } from '../run.js';

export const whoamiCommand = defineCommand({
  name: 'whoami',
  summary: 'Show who your token belongs to',
  usage: `Usage: stint whoami

Shows who you are signed in as (stint login) or whose token you use, their
groups, their roles in Stint (admin, auditor), their own accounts on
targets, and the server asked.

Example:
  stint whoami --json`,
  async run({ out, client }) {
    const api = client();
    const me = await api.get<MeView>('/v1/me');
    if (out.json) {
      out.document(me);
      return 0;
    }
    const accounts = Object.entries(me.accounts);
    out.line(
      fields([
        ['user', `${me.user}${me.admin ? ' (admin)' : ''}`],
        ['groups', me.groups.length ? me.groups.join(', ') : '(none)'],
        ['roles', me.roles.length ? me.roles.join(', ') : '(none)'],
        ['accounts', accounts.length ? accounts.map(([t, a]) => `${t}: ${a}`).join(', ') : '(none)'],
        ['server', api.server],
      ]),
    );
    return 0;
  },
});
