import type { NotificationsView } from '../../api/views/index.js';
import { intFlag } from '../args.js';
import { usageError } from '../cli-error.js';
import { table } from '../output.js';
import { defineCommand } from '../run.js';

const statuses = ['pending', 'delivered', 'failed', 'failing'];

export const notificationsCommand = defineCommand({
  name: 'notifications',
  summary: 'List the notification outbox: what was sent, what is retrying, what failed',
  usage: `Usage: stint notifications [--failed | --failing | --status S] [--limit N]

Lists the notification outbox, newest first (admins): each row's channel,
recipient (email), kind, status, attempts and last error. The counts of
pending, retrying and failed rows follow the table.

Options:
  --failed     only rows given up (refused, or failing for delivery.giveUpAfter)
  --failing    failed rows and pending rows that failed at least once
  --status S   only this status: ${statuses.join(', ')}
  --limit N    at most N (1-1000, default 100)

Examples:
  stint notifications --failed
  stint notifications --failing --json | jq -r '.notifications[] | .channel + " " + .lastError'`,
  parse: { options: { failed: { type: 'boolean' }, failing: { type: 'boolean' }, status: { type: 'string' }, limit: { type: 'string' } } },
  async run({ args, out, client }) {
    const picked = [args.boolean('failed') && 'failed', args.boolean('failing') && 'failing', args.string('status')].filter((s): s is string => !!s);
    if (picked.length > 1) throw usageError('give one of --failed, --failing and --status');
    const status = picked[0];
    if (status !== undefined && !statuses.includes(status)) throw usageError(`--status must be one of ${statuses.join(', ')}; got ${JSON.stringify(status)}`);
    const limitText = args.string('limit');
    const res = await client().get<NotificationsView>('/v1/notifications', {
      status,
      limit: limitText === undefined ? undefined : intFlag('limit', limitText, 1, 1000),
    });
    if (out.json) {
      out.document(res);
      return 0;
    }
    if (res.notifications.length === 0) out.line(status ? `No ${status} notifications.` : 'No notifications.');
    else
      out.line(
        table(
          res.notifications,
          [
            { header: 'ID', value: (n) => n.id },
            { header: 'CREATED', value: (n) => n.createdAt },
            { header: 'KIND', value: (n) => n.kind },
            { header: 'CHANNEL', value: (n) => n.channel },
            { header: 'TO', value: (n) => n.recipient ?? '-' },
            { header: 'STATUS', value: (n) => n.status },
            { header: 'TRIES', value: (n) => String(n.attempts) },
            { header: 'LAST ERROR', value: (n) => n.lastError ?? '-' },
          ],
          out.color,
        ),
      );
    const c = res.counts;
    out.line(`\n${c.pending} pending (${c.retrying} retrying), ${c.failed} failed`);
    return 0;
  },
});
