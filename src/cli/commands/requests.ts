import type { RequestView } from '../../api/views/index.js';
import { intFlag } from '../args.js';
import { usageError } from '../cli-error.js';
import { requestsTable } from '../render.js';
import { defineCommand } from '../run.js';

export const requestsCommand = defineCommand({
  name: 'requests',
  summary: 'List your requests, those you may approve, or all',
  usage: `Usage: stint requests [--pending] [--approvable | --all] [--limit N]

Lists requests, newest first. By default your own.

Options:
  --pending      only pending ones
  --approvable   requests you may approve (never your own)
  --all          everyone's requests (admins)
  --limit N      at most N (1-1000, default 200)

Examples:
  stint requests --approvable --pending
  stint requests --all --json`,
  parse: { options: { pending: { type: 'boolean' }, approvable: { type: 'boolean' }, all: { type: 'boolean' }, limit: { type: 'string' } } },
  async run({ args, out, client, now }) {
    if (args.boolean('approvable') && args.boolean('all')) throw usageError('give either --approvable or --all, not both');
    const limitText = args.string('limit');
    const query = {
      scope: args.boolean('approvable') ? 'approvable' : args.boolean('all') ? 'all' : undefined,
      status: args.boolean('pending') ? 'pending' : undefined,
      limit: limitText === undefined ? undefined : intFlag('limit', limitText, 1, 1000),
    };
    const res = await client().get<{ requests: RequestView[] }>('/v1/requests', query);
    if (out.json) {
      out.document(res);
      return 0;
    }
    if (res.requests.length === 0) {
      out.line(args.boolean('approvable') ? 'No requests waiting for you.' : 'No requests.');
      return 0;
    }
    out.line(requestsTable(out, res.requests, now()));
    return 0;
  },
});
