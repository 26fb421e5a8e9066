// Script connector: for devices and in-house systems without a native
// connector, each operation runs an executable the admin configured, with the
// operation as one JSON document on stdin and one JSON answer on stdout (see
// README.md and protocol.ts).
//
// Safety rules, enforced here rather than trusted to scripts:
// - argv is fixed by the config; no value from a request ever reaches a
//   command line (the admin secret included), and no shell runs;
// - the environment is PATH plus the configured variables, nothing inherited;
// - every answer is validated; a malformed one is a clear error that never
//   echoes stdout, and every secret is scrubbed from what a script reports;
// - the marker rule is checked here too where the protocol allows: with a
//   `describe` command, create/extend/remove of an existing account that the
//   script reports as not managed are refused before the script is run, and
//   listManaged keeps only entries the script reports as managed.

import { invalid } from '../../core/errors.js';
import { KeyedMutex, KeyedSemaphore } from '../../core/keyed-mutex.js';
import { scrub } from '../../core/scrub.js';
import type {
  AccountInfo,
  CreateAccountRequest,
  ExtendAccountRequest,
  GrantToAccountRequest,
  ListHoldersRequest,
  ListHoldersResponse,
  ListManagedResponse,
  ManagedAccount,
  RemoveAccountRequest,
  RemoveAccountResponse,
  RevokeFromAccountRequest,
  RevokeFromAccountResponse,
} from '../contract.js';
import { operationError, type KindConnector } from '../kit/operation.js';
import type { KindInput } from '../module.js';
import { toTargetError } from './errors.js';
import { PROTOCOL_VERSION, interpret, secretForms, type Answer, type ScriptRequest } from './protocol.js';
import { runCommand } from './run-command.js';
import { checkText, type Operation, type ScriptSettings } from './settings.js';

type Payload = Omit<ScriptRequest, 'protocol' | 'operation' | 'target' | 'adminUser' | 'adminSecret'>;

const MAX_ARGV_SHOWN = 200;

/** The kind's operations; kit/create.ts parses the settings and wraps these (module.ts). */
export function openScript(input: KindInput<ScriptSettings>): KindConnector {
  const target = input.target;
  const settings = input.settings;
  const adminSecret = input.adminSecret;
  // The admin secret belongs on stdin only: argv is visible to every local
  // user (ps, /proc) and env to the script's whole process tree.
  const leaks = Object.entries(settings.commands).filter(([, argv]) => argv.some((a) => adminSecret.length > 0 && a.includes(adminSecret)));
  if (leaks.length > 0) {
    throw invalid(`script target ${JSON.stringify(target)}: commands.${leaks[0]![0]} contains the admin secret; scripts receive it on stdin as adminSecret`);
  }
  if (adminSecret.length > 0 && Object.values(settings.env).some((v) => v.includes(adminSecret))) {
    throw invalid(`script target ${JSON.stringify(target)}: env contains the admin secret; scripts receive it on stdin as adminSecret`);
  }

  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...settings.env };
  // Within one broker, operations on one account never overlap (a retry racing
  // the original); across accounts, at most maxConcurrency scripts run.
  const accountLock = new KeyedMutex();
  const slots = new KeyedSemaphore(settings.maxConcurrency);
  let closed = false;

  const fail = (operation: string, account: string | undefined, reason: string, retryable = false) =>
    operationError('script', target, operation, account, reason, retryable);

  function commandLabel(op: Operation): string {
    const argv = settings.commands[op]!.join(' ');
    return `commands.${op} (${argv.length > MAX_ARGV_SHOWN ? `${argv.slice(0, MAX_ARGV_SHOWN)}…` : argv})`;
  }

  /** Runs one configured command and returns its validated answer, or throws a scrubbed TargetError. */
  async function call<O extends Operation>(op: O, operation: string, account: string | undefined, payload: Payload): Promise<Answer<O>> {
    if (closed) throw fail(operation, account, 'the connector is closed');
    const argv = settings.commands[op];
    if (!argv) throw fail(operation, account, `commands.${op} is not configured`);
    const request: ScriptRequest = { protocol: PROTOCOL_VERSION, operation: op, target, adminUser: input.adminUser, adminSecret, ...payload };
    const secrets = [adminSecret, payload.secret];
    const outcome = await slots.run('scripts', () =>
      runCommand({
        argv,
        input: JSON.stringify(request),
        env,
        cwd: settings.workingDirectory,
        timeoutMs: settings.timeoutMs,
        maxOutputBytes: settings.maxOutputBytes,
      }),
    );
    const result = interpret(op, outcome, settings, secrets);
    if (result.ok) return result.answer;
    // The reason is built from fixed text, exit codes and the script's own
    // (already scrubbed) message; scrub once more for the account name's sake.
    throw fail(operation, account, scrub(`${commandLabel(op)} ${result.reason}`, secretForms(secrets)), result.retryable);
  }

  /**
   * The connector's own marker check, when a describe command exists:
   * returns whether the account exists, and throws if it exists unmanaged.
   * The script must refuse such accounts too (the state may change between
   * the two calls); this catches a script that forgot.
   */
  async function precheck(operation: string, account: string, verb: string): Promise<boolean | undefined> {
    if (!settings.commands.describe) return undefined;
    const d = await call('describe', operation, account, { account });
    if (d.exists && !d.managed) {
      throw fail(operation, account, `the account exists on the target but is not managed by Stint; ${verb} refused, nothing changed`);
    }
    return d.exists;
  }

  const toDate = (s: string | null | undefined) => (s ? new Date(s) : null);

  return {
    classify: toTargetError,
    checkAccount: (account) => checkText('account name', account),
    checkGrant: (g) => checkText(`grant ${JSON.stringify(g)}`, g, 1024),

    async createAccount(req: CreateAccountRequest): Promise<void> {
      const op = 'createAccount';
      const grants = [...new Set(req.grants)];
      const expiresAt = req.expiresAt.toISOString();
      await accountLock.run(req.account, async () => {
        await precheck(op, req.account, 'create');
        await call('create', op, req.account, { account: req.account, secret: req.secret, grants, expiresAt });
      });
    },

    async extendAccount(req: ExtendAccountRequest): Promise<void> {
      const op = 'extendAccount';
      const expiresAt = req.expiresAt.toISOString();
      await accountLock.run(req.account, async () => {
        const exists = await precheck(op, req.account, 'extend');
        if (exists === false) throw fail(op, req.account, 'the account does not exist on the target');
        // Without an extend command the target has no expiry to move; Stint's own expiry is the only clock.
        if (settings.commands.extend) await call('extend', op, req.account, { account: req.account, expiresAt });
      });
    },

    async removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse> {
      const op = 'removeAccount';
      return accountLock.run(req.account, async () => {
        // Even when describe says the account is gone, remove runs: a retry
        // after a half-finished removal must still end its sessions.
        await precheck(op, req.account, 'remove');
        const res = await call('remove', op, req.account, { account: req.account });
        let terminatedSessions = res.terminatedSessions;
        if (settings.commands.sessions) {
          terminatedSessions += (await call('sessions', op, req.account, { account: req.account })).terminatedSessions;
        }
        return { existed: res.existed, terminatedSessions };
      });
    },

    async grantToAccount(req: GrantToAccountRequest): Promise<void> {
      const op = 'grantToAccount';
      const grants = [...new Set(req.grants)];
      await accountLock.run(req.account, () => call('grant', op, req.account, { account: req.account, grants }));
    },

    async revokeFromAccount(req: RevokeFromAccountRequest): Promise<RevokeFromAccountResponse> {
      const op = 'revokeFromAccount';
      const grants = [...new Set(req.grants)];
      return accountLock.run(req.account, async () => {
        const res = await call('revoke', op, req.account, { account: req.account, grants, terminateSessions: req.terminateSessions });
        let terminatedSessions = res.terminatedSessions;
        if (req.terminateSessions && settings.commands.sessions) {
          terminatedSessions += (await call('sessions', op, req.account, { account: req.account })).terminatedSessions;
        }
        return { terminatedSessions };
      });
    },

    async listManaged(): Promise<ListManagedResponse> {
      const { accounts } = await call('list', 'listManaged', undefined, {});
      const seen = new Map<string, ManagedAccount>();
      for (const a of accounts) {
        if (!a.managed) continue;
        if (seen.has(a.account)) throw fail('listManaged', undefined, `${commandLabel('list')} listed account ${JSON.stringify(a.account)} twice`);
        seen.set(a.account, { account: a.account, grants: [...new Set(a.grants)], expiresAt: toDate(a.expiresAt) });
      }
      return { accounts: [...seen.values()] };
    },

    // Standing-privilege discovery, only when the target configures a holders command.
    ...(settings.commands.holders
      ? {
          async listHolders(req: ListHoldersRequest): Promise<ListHoldersResponse> {
            const asked = new Set(req.grants);
            const { holders } = await call('holders', 'listHolders', undefined, { grants: [...asked] });
            // Only what was asked about; the script cannot tell who granted it.
            return {
              holders: holders
                .filter((h) => asked.has(h.grant) && h.account !== input.adminUser)
                .map((h) => ({
                  account: h.account,
                  grant: h.grant,
                  managed: h.managed,
                  grantedByStint: h.via?.length ? false : null,
                  ...(h.via?.length ? { via: h.via } : {}),
                })),
            };
          },
        }
      : {}),

    async describeAccount(req: { account: string }): Promise<AccountInfo> {
      const op = 'describeAccount';
      if (settings.commands.describe) {
        const d = await call('describe', op, req.account, { account: req.account });
        return { account: req.account, exists: d.exists, grants: d.exists ? [...new Set(d.grants)] : [] };
      }
      // Without describe, the list answer is all we know (complete only if the script lists unmanaged accounts too).
      const { accounts } = await call('list', op, req.account, {});
      const found = accounts.find((a) => a.account === req.account);
      return { account: req.account, exists: found !== undefined, grants: found ? [...new Set(found.grants)] : [] };
    },

    async checkHealth(): Promise<void> {
      await call('health', 'checkHealth', undefined, {});
    },

    connectionInfo() {
      return { ...settings.connection };
    },

    async close(): Promise<void> {
      // Scripts already running finish on their own (each has its timeout).
      closed = true;
    },
  };
}
