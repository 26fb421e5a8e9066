import type { IssuedTokenView, MeView, TokenView } from '../../api/views/index.js';
import { closest, idArg } from '../args.js';
import { usageError } from '../cli-error.js';
import { parseDuration } from '../../core/duration.js';
import { maxTokenTtlMs, minTokenTtlMs } from '../../core/tokens/token-service.js';
import { relativeTime, shortTime, table, truncate } from '../output.js';
import { defineCommand, seg, type CommandContext } from '../run.js';

const subcommands = ['create', 'list', 'revoke'];

export const tokensCommand = defineCommand({
  name: 'tokens',
  summary: 'Issue, list and revoke API tokens',
  usage: `Usage: stint tokens create [--user NAME] [--ttl DURATION] [--description TEXT]
       stint tokens list [--user NAME]
       stint tokens revoke TOKEN

create issues an API token for yourself, or (admins) for user NAME: a
service user (service: true), or a person only while people do not sign in
through an identity provider. The secret is printed once, alone on stdout,
so it can be captured: Stint keeps only its hash and cannot show it again.
Every token expires: after --ttl (default 90d, at most 365d).
list shows your tokens (admins and auditors: everyone's, or --user NAME's),
with when each expires and when it was last used.
revoke ends a token at once (yours, or any as admin).

Options:
  --user NAME          create: whose token (default: yours); list: whose tokens (admins, auditors)
  --ttl DURATION       create: how long the token lives, like 30d or 12h (default 90d, at most 365d)
  --description TEXT   create: what the token is for

Examples:
  stint tokens create --description "laptop" > my.token
  stint tokens create --user ci --ttl 30d --description "deploy pipeline" > ci.token
  stint tokens list
  stint tokens revoke tok_0123456789ab`,
  parse: {
    positionals: ['create|list|revoke', 'TOKEN'],
    minPositionals: 1,
    options: { user: { type: 'string' }, description: { type: 'string' }, ttl: { type: 'string' } },
  },
  async run(ctx) {
    const [sub, id] = ctx.args.positionals as [string, string | undefined];
    const onlyWith = (flag: string, allowed: string[]) => {
      if (ctx.args.has(flag) && !allowed.includes(sub)) throw usageError(`--${flag} does not apply to stint tokens ${sub}`);
    };
    if (!subcommands.includes(sub)) {
      const hint = closest(sub, subcommands);
      throw usageError(`unknown tokens subcommand ${JSON.stringify(sub)}${hint ? `; did you mean ${hint}?` : ''} (one of: ${subcommands.join(', ')})`);
    }
    onlyWith('user', ['create', 'list']);
    onlyWith('description', ['create']);
    onlyWith('ttl', ['create']);
    if (sub !== 'revoke' && id !== undefined) throw usageError(`stint tokens ${sub} takes no TOKEN argument`);
    if (sub === 'create') return create(ctx);
    if (sub === 'list') return list(ctx);
    if (id === undefined) throw usageError('stint tokens revoke needs TOKEN (a tok_… id; see stint tokens list)');
    return revoke(ctx, idArg('token', id));
  },
});

async function create({ args, io, out, client }: CommandContext): Promise<number> {
  const description = args.string('description');
  const ttl = args.string('ttl');
  if (ttl !== undefined) {
    const d = parseDuration(ttl);
    if (!d.ok) throw usageError(`--ttl: ${d.error}`);
    if (d.ms > maxTokenTtlMs) throw usageError(`--ttl: ${ttl} is longer than a token may live (at most 365d)`);
    if (d.ms < minTokenTtlMs) throw usageError('--ttl must be at least 1s');
  }
  const user = args.string('user') ?? (await client().get<MeView>('/v1/me')).user;
  const res = await client().post<IssuedTokenView>('/v1/tokens', {
    user,
    ...(description !== undefined ? { description } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
  });
  if (out.json) {
    out.document(res);
    return 0;
  }
  // The secret alone on stdout (capturable with > file); the rest on stderr.
  io.stdout(`${res.secret}\n`);
  out.note(
    `created token ${res.token.id} for ${res.token.user}, expiring ${shortTime(res.token.expiresAt)}. The secret above is shown only now; store it safely (for example in a file read with --token-file).`,
  );
  return 0;
}

async function list({ args, out, client, now }: CommandContext): Promise<number> {
  const res = await client().get<{ tokens: TokenView[] }>('/v1/tokens', { user: args.string('user') });
  if (out.json) {
    out.document(res);
    return 0;
  }
  if (res.tokens.length === 0) {
    out.line('No tokens.');
    return 0;
  }
  out.line(
    table(
      res.tokens,
      [
        { header: 'ID', value: (t) => t.id },
        { header: 'USER', value: (t) => t.user },
        { header: 'CREATED', value: (t) => relativeTime(t.createdAt, now()) },
        {
          header: 'STATUS',
          value: (t) =>
            t.revokedAt
              ? `revoked ${relativeTime(t.revokedAt, now())}`
              : Date.parse(t.expiresAt) <= now()
                ? `expired ${relativeTime(t.expiresAt, now())}`
                : `expires ${relativeTime(t.expiresAt, now())}`,
        },
        { header: 'LAST USED', value: (t) => (t.lastUsedAt ? relativeTime(t.lastUsedAt, now()) : 'never') },
        { header: 'DESCRIPTION', value: (t) => truncate(t.description, 60) },
      ],
      out.color,
    ),
  );
  return 0;
}

async function revoke({ out, client }: CommandContext, id: string): Promise<number> {
  const res = await client().delete<{ revoked: true }>(`/v1/tokens/${seg(id)}`);
  if (out.json) out.document(res);
  else out.line(`token ${id} revoked`);
  return 0;
}
