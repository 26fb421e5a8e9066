// `stint report access`: the access report of a period (GET /v1/reports/access)
// written to a file or stdout as it arrives; PDF is the HTML printed by the
// system's Chromium (headless, no network), here on the auditor's machine.

import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { CliError, usageError } from '../cli-error.js';
import { apiError, resolveConfig } from '../client.js';
import { defineCommand, type CommandContext } from '../run.js';
import { reportStanding } from './report-standing.js';

const formats = ['json', 'csv', 'html', 'pdf'] as const;
type Format = (typeof formats)[number];

export const reportCommand = defineCommand({
  name: 'report',
  summary: 'Evidence for auditors: the access report of a period, standing privileges and the ZSP score (admins, auditors)',
  usage: `Usage: stint report access --from DATE --to DATE [--format json|csv|html|pdf] [--target T] [--user U] [--out FILE]
       stint report standing [--target T] [--json]

access:

Every request made from --from up to (not including) --to, one row each:
requester, profile, target, the exact grants, reason and ticket, each
approver with time and comment (or the policy that approved automatically,
or break-glass and its review), activation, every extension, the end with
its cause and who asked for it, the target's confirmation of removal,
revoke-failing incidents and the gateway sessions with a link to their
recording; then a summary (grants by profile and person, median and p95
time to approval, longest grants, denied and expired-unapproved requests,
revoke-failing incidents, break-glass uses and open reviews).

json and csv stream as the broker reads the store; html is one
self-contained page that prints well; pdf prints that page with Chromium
(chromium must be installed; STINT_CHROMIUM names another binary) and
needs --out.

standing lists, per target (or only T), every principal holding one of its
profiles' permissions outside a live grant, and how it holds it (direct, or
via a role or group), with the target's zero-standing-privilege score: the
share of holders of profile permissions that hold them only through live
grants (docs/zsp.md). It is a dry run of reconcile: nothing changes. Its exit
code is 7 when a target could not be reached or its holders could not be
listed (the report says which).

Options:
  --from DATE      first day (2026-12-01, midnight UTC) or an ISO time
  --to DATE        end of the period, not included (2027-01-01)
  --format F       json (default), csv, html or pdf
  --target T       only requests for target T
  --user U         only requests by user U
  --out FILE       write to FILE (default: stdout; pdf needs it)

Examples:
  stint report access --from 2026-12-01 --to 2027-01-01 --format html --out december.html
  stint report access --from 2026-12-01 --to 2027-01-01 --format pdf --out december.pdf
  stint report standing --target pg-main --json | jq '.targets[].standing'`,
  parse: {
    positionals: ['subcommand'],
    minPositionals: 1,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      format: { type: 'string' },
      target: { type: 'string' },
      user: { type: 'string' },
      out: { type: 'string' },
    },
  },
  async run(ctx) {
    const sub = ctx.args.positionals[0];
    if (sub === 'standing') return reportStanding(ctx);
    if (sub !== 'access') throw usageError(`unknown report ${JSON.stringify(sub)}; use: access, standing`);
    return access(ctx);
  },
});

const day = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/;

function dateFlag(flag: string, v: string | undefined): string {
  if (v === undefined) throw usageError(`--${flag} is required (a date such as 2026-12-01, or an ISO time)`);
  if (!day.test(v.trim()) || Number.isNaN(Date.parse(v.trim())))
    throw usageError(`--${flag} must be a date (2026-12-01) or an ISO time; got ${JSON.stringify(v)}`);
  return v.trim();
}

async function access(ctx: CommandContext): Promise<number> {
  const { args, io } = ctx;
  const from = dateFlag('from', args.string('from'));
  const to = dateFlag('to', args.string('to'));
  if (Date.parse(to) <= Date.parse(from)) throw usageError('--to must be after --from');
  const format = (args.string('format') ?? 'json') as Format;
  if (!formats.includes(format)) throw usageError(`--format must be one of ${formats.join(', ')}; got ${JSON.stringify(format)}`);
  const out = args.string('out');
  if (format === 'pdf' && out === undefined) throw usageError('--format pdf needs --out FILE');
  const query = new URLSearchParams({ from, to, format: format === 'pdf' ? 'html' : format });
  for (const k of ['target', 'user'] as const) {
    const v = args.string(k);
    if (v !== undefined) query.set(k, v);
  }
  const res = await fetchReport(ctx, `/v1/reports/access?${query.toString()}`);
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  if (format === 'pdf') {
    await printPdf(body, resolve(out!), io.env);
    return 0;
  }
  if (out !== undefined) {
    // Written beside, then renamed: a report cut by a network error never looks complete.
    const part = `${resolve(out)}.part`;
    await pipeline(body, createWriteStream(part, { mode: 0o600 }));
    await rename(part, resolve(out));
    return 0;
  }
  await pipeline(
    body,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        io.stdout(chunk.toString('utf8'));
        done();
      },
    }),
  );
  return 0;
}

async function fetchReport({ args, io }: CommandContext, path: string): Promise<Response> {
  const config = resolveConfig(args, io.env);
  if (config.token === null) throw new CliError('unauthenticated', 'not signed in: run stint login --server URL, or set STINT_TOKEN');
  const scrub = (t: string) => (config.token && config.token.length >= 4 ? t.split(config.token).join('***') : t);
  let res: Response;
  try {
    res = await fetch(`${config.server}${path}`, { headers: { authorization: `Bearer ${config.token}` }, signal: AbortSignal.timeout(600_000) });
  } catch (err) {
    throw new CliError('unavailable', scrub(`cannot fetch the report from the Stint server at ${config.server}: ${(err as Error).message}`));
  }
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    throw apiError(res.status, body, config.server, 'GET /v1/reports/access');
  }
  return res;
}

/** Chromium prints the page; it may reach nothing (every host name fails to resolve, no proxy). */
async function printPdf(html: Readable, out: string, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'stint-report-'));
  try {
    const page = join(dir, 'report.html');
    await pipeline(html, createWriteStream(page, { mode: 0o600 }));
    const pdf = join(dir, 'report.pdf');
    const flags = [
      '--headless',
      '--disable-gpu',
      '--no-first-run',
      '--no-pdf-header-footer',
      '--no-proxy-server',
      '--host-resolver-rules=MAP * ~NOTFOUND',
      `--user-data-dir=${join(dir, 'profile')}`,
      `--print-to-pdf=${pdf}`,
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      `file://${page}`,
    ];
    const bin = env.STINT_CHROMIUM ?? 'chromium';
    await new Promise<void>((ok, fail) => {
      execFile(bin, flags, { timeout: 300_000, maxBuffer: 4 * 1024 * 1024 }, (err, _o, stderr) => {
        if (err)
          fail(
            new CliError(
              'internal',
              `${bin} could not print the report: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : String(stderr).trim().split('\n').pop()}`,
            ),
          );
        else ok();
      });
    });
    await writeFile(`${out}.part`, '');
    await rename(pdf, `${out}.part`).catch(async () => {
      // Another file system: copy instead.
      const { copyFile } = await import('node:fs/promises');
      await copyFile(pdf, `${out}.part`);
    });
    await rename(`${out}.part`, out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
