import type { ReviewView } from '../../api/views/index.js';
import { escapeText } from '../../core/text.js';
import { idArg } from '../args.js';
import { usageError } from '../cli-error.js';
import { relativeTime, table, truncate } from '../output.js';
import { defineCommand, seg } from '../run.js';

export const reviewCommand = defineCommand({
  name: 'review',
  summary: 'Record the review of a break-glass grant',
  usage: `Usage: stint review GRANT --comment TEXT

Records your review of the break-glass activation GRANT (admins and auditors;
never the person who activated it). Until someone does, it is listed by
stint reviews. A grant is reviewed once.

Example:
  stint review gr_0123456789ab --comment "checked the session: unlocked the orders table only"`,
  parse: { positionals: ['GRANT'], options: { comment: { type: 'string' } } },
  async run({ args, out, client }) {
    const id = idArg('grant', args.positionals[0]!);
    const comment = args.string('comment');
    if (comment === undefined || !comment.trim()) throw usageError('--comment is required: what was done with the access and whether it was justified');
    const res = await client().post<{ review: ReviewView }>(`/v1/grants/${seg(id)}/review`, { comment });
    if (out.json) out.document(res);
    else
      out.line(
        `break-glass grant ${escapeText(res.review.grantId)} of ${escapeText(res.review.user)} (${escapeText(res.review.profile)}) reviewed by ${escapeText(res.review.reviewedBy ?? '')}`,
      );
    return 0;
  },
});

export const reviewsCommand = defineCommand({
  name: 'reviews',
  summary: 'Break-glass grants waiting for review',
  usage: `Usage: stint reviews [--all]

Break-glass activations nobody has reviewed yet, oldest first (admins and
auditors: everyone's; others: their own). --all lists reviewed ones too.
Exit code 0 either way; with --json, { "reviews": [...] }.

Example:
  stint reviews`,
  parse: { options: { all: { type: 'boolean' } } },
  async run({ args, out, client, now }) {
    const res = await client().get<{ reviews: ReviewView[] }>('/v1/reviews', args.boolean('all') ? { all: 'true' } : {});
    if (out.json) {
      out.document(res);
      return 0;
    }
    if (res.reviews.length === 0) {
      out.line(args.boolean('all') ? 'No break-glass activations.' : 'No break-glass activations wait for review.');
      return 0;
    }
    out.line(
      table(
        res.reviews,
        [
          { header: 'GRANT', value: (r) => r.grantId },
          { header: 'USER', value: (r) => r.user },
          { header: 'PROFILE', value: (r) => r.profile },
          { header: 'ACTIVATED', value: (r) => relativeTime(r.activatedAt, now()) },
          { header: 'REVIEW', value: (r) => (r.status === 'open' ? 'open' : `by ${r.reviewedBy ?? ''}`) },
          { header: 'REASON', value: (r) => truncate(r.reason, 60) },
        ],
        out.color,
      ),
    );
    return 0;
  },
});
