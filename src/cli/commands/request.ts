import type { ApprovalView, CredentialsView, GrantView, OutcomeView, RequestDetailView, RequestView } from '../../api/views/index.js';
import { parseDuration } from '../../core/duration.js';
import { durationFlag } from '../args.js';
import { CliError, usageError } from '../cli-error.js';
import { exitCodes } from '../exit-codes.js';
import { keyLoginText } from '../key-login.js';
import { formatSpan } from '../output.js';
import { grantBlock, grantHints, requestSummary } from '../render.js';
import { defineCommand, seg, type CommandContext } from '../run.js';
import { fetchCredentials } from './creds.js';

const defaultPollMs = 2000;

export const requestCommand = defineCommand({
  name: 'request',
  summary: 'Ask for a profile for a bounded time',
  usage: `Usage: stint request PROFILE --for DURATION [--reason TEXT] [--ticket ID] [--wait [--timeout DURATION]]
       stint request PROFILE --break-glass --for DURATION --reason TEXT

Asks for PROFILE for DURATION. If policy approves it automatically, the grant
is delivered at once and printed; otherwise the request waits for approvers.
The grant's clock starts when it becomes active, not when you ask.

Options:
  --for DURATION       how long you need it: 90s, 30m, 1h, 1h30m (required)
  --reason TEXT        why you need it (some policies require one)
  --ticket ID          change/incident ticket (some policies require one)
  --break-glass        emergency: activate at once without approval (members of
                       the profile's breakGlass groups; --reason required). It
                       raises an alert and stays listed by stint reviews until
                       someone else reviews it
  --wait               wait until the request is decided and the grant active;
                       for an SSH account, also print how to log in (with your
                       registered keys, or the private key made for the grant)
  --timeout DURATION   with --wait: give up after this long (default 10m);
                       the request stays open

Environment:
  STINT_POLL_INTERVAL  with --wait: how often to ask the server (default 2s)

Exit codes: 0 created (or, with --wait, approved and active); 4 denied,
cancelled or expired unapproved; 9 --timeout reached while still pending;
7 approved but the grant could not be delivered.

Examples:
  stint request pg-read --for 30m --reason "debug INC-42" --ticket INC-42
  stint request pg-admin --for 1h --reason "migration" --wait --timeout 30m`,
  parse: {
    positionals: ['PROFILE'],
    options: {
      for: { type: 'string' },
      reason: { type: 'string' },
      ticket: { type: 'string' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      'break-glass': { type: 'boolean' },
    },
  },
  async run(ctx) {
    const { args, out, now } = ctx;
    const profile = args.positionals[0]!;
    const forText = args.string('for');
    if (forText === undefined) throw usageError('--for is required: how long you need the access, e.g. --for 30m');
    const duration = durationFlag('for', forText);
    const wait = args.boolean('wait');
    const timeoutText = args.string('timeout');
    if (timeoutText !== undefined && !wait) throw usageError('--timeout only applies with --wait');
    const timeoutMs = timeoutText === undefined ? 10 * 60_000 : durationFlag('timeout', timeoutText).ms;
    const pollText = ctx.io.env.STINT_POLL_INTERVAL;
    const pollMs = pollText ? envDuration('STINT_POLL_INTERVAL', pollText) : defaultPollMs;
    const reason = args.string('reason');
    const ticket = args.string('ticket');
    const breakGlass = args.boolean('break-glass');
    if (breakGlass && !reason?.trim()) throw usageError('--break-glass needs --reason: say why access cannot wait for approval');

    const created = await ctx.client().post<OutcomeView>('/v1/requests', {
      profile,
      duration: duration.text,
      ...(reason !== undefined ? { reason } : {}),
      ...(ticket !== undefined ? { ticket } : {}),
      ...(breakGlass ? { breakGlass: true } : {}),
    });
    if (!wait) {
      if (out.json) out.document(created);
      else printOutcome(ctx, created);
      return 0;
    }
    const final = await waitForOutcome(ctx, created, now() + timeoutMs, pollMs);
    const login = await keyLoginOf(ctx, final.grant);
    if (out.json) out.document({ request: final.request, grant: final.grant, ...(login ? { credentials: login } : {}) });
    else printOutcome(ctx, final);
    if (login && !out.json && final.grant) {
      out.line();
      out.line(keyLoginText(login, final.grant.id));
    }
    return final.exitCode;
  },
});

function printOutcome({ out, now }: CommandContext, o: OutcomeView): void {
  out.line(requestSummary(out, o.request, now()));
  if (o.grant) {
    out.line();
    out.line(grantBlock(out, o.grant, now()));
    if (o.grant.status === 'active') {
      out.line();
      out.line(grantHints(o.grant));
    }
  } else if (o.request.status === 'pending') {
    out.line(`approvers see it with: stint requests --approvable   ·   withdraw it with: stint cancel ${o.request.id}`);
  }
}

/**
 * Polls the request until it is decided, then the grant until it is no
 * longer provisioning. Progress goes to stderr, only on a terminal.
 */
async function waitForOutcome(ctx: CommandContext, start: OutcomeView, deadline: number, pollMs: number): Promise<OutcomeView & { exitCode: number }> {
  const { io, out, now } = ctx;
  const api = ctx.client();
  const live = io.stderrIsTTY === true;
  const progress = (text: string) => {
    if (live) io.stderr(`\r\x1b[2K${text}`);
  };
  const done = () => {
    if (live) io.stderr('\r\x1b[2K');
  };
  const began = now();
  let request: RequestView = start.request;
  let grant: GrantView | null = start.grant;
  let approvals: ApprovalView[] = [];
  try {
    while (request.status === 'pending') {
      const approved = approvals.filter((a) => a.decision === 'approve').length;
      progress(
        `waiting for approval of ${request.id}: ${approved}/${request.requiredApprovals} approvals, ${formatSpan(now() - began)} so far (Ctrl-C stops waiting; the request stays open)`,
      );
      if (now() >= deadline) {
        done();
        throw new CliError(
          'wait_timeout',
          `${request.id} is still pending after ${formatSpan(now() - began)}; it stays open (see stint requests, withdraw with stint cancel ${request.id})`,
        );
      }
      await sleep(Math.min(pollMs, Math.max(0, deadline - now())));
      const r = await api.get<RequestDetailView>(`/v1/requests/${seg(request.id)}`);
      request = r.request;
      approvals = r.approvals;
    }
    if (request.status === 'approved' && request.grantId && (grant === null || grant.id !== request.grantId || grant.status === 'provisioning')) {
      grant = (await api.get<{ grant: GrantView }>(`/v1/grants/${seg(request.grantId)}`)).grant;
      while (grant.status === 'provisioning') {
        if (now() >= deadline) {
          done();
          throw new CliError(
            'wait_timeout',
            `${request.id} is approved but grant ${grant.id} is still being provisioned after ${formatSpan(now() - began)} (see stint grants)`,
          );
        }
        progress(`approved; delivering grant ${grant.id} on ${grant.target}…`);
        await sleep(Math.min(pollMs, Math.max(0, deadline - now())));
        grant = (await api.get<{ grant: GrantView }>(`/v1/grants/${seg(grant.id)}`)).grant;
      }
    }
  } finally {
    done();
  }
  let exitCode: number = exitCodes.ok;
  if (request.status !== 'approved') {
    exitCode = exitCodes.denied;
  } else if (!grant || grant.status !== 'active') {
    exitCode = exitCodes.unavailable;
    out.note(
      `stint: ${request.id} was approved but its grant is ${grant ? `${grant.status}${grant.lastError ? ` (${grant.lastError})` : ''}` : 'missing'}; access was not delivered`,
    );
  }
  return { request, grant, exitCode };
}

function envDuration(name: string, text: string): number {
  const r = parseDuration(text);
  if (!r.ok) throw usageError(`${name}: ${r.error}`);
  return r.ms;
}

/**
 * How to log in to an active ephemeral grant on a target whose accounts take
 * SSH keys (ssh), shown at once since it needs no more than the person has;
 * null for other grants, whose credential stint creds shows when asked.
 */
async function keyLoginOf(ctx: CommandContext, grant: GrantView | null): Promise<CredentialsView | null> {
  if (!grant || grant.status !== 'active' || grant.mode !== 'ephemeral-account' || grant.sessionBound) return null;
  try {
    const { targets } = await ctx.client().get<{ targets: Array<{ name: string; kind: string }> }>('/v1/targets');
    if (targets.find((t) => t.name === grant.target)?.kind !== 'ssh') return null;
    return (await fetchCredentials(ctx.rawClient(), grant.id)).credentials;
  } catch (err) {
    // The grant is active, which is what --wait waited for; how to log in is one command away.
    ctx.out.note(
      `stint: grant ${grant.id} is active, but how to log in could not be fetched (${err instanceof Error ? err.message : String(err)}); see stint creds ${grant.id}`,
    );
    return null;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
