// The one operation wrapper every connector runs inside (the role of Vault's
// dbplugin middleware): it checks the request, times the call, and turns
// anything thrown into a TargetError of the connector error kinds, named after
// the operation and the account and scrubbed of every secret. A kind's code
// implements KindConnector (each method gets the running Operation) and never
// catches to reword; createConnector (create.ts) applies this wrapper.

import { TargetError } from '../../core/errors.js';
import type {
  AccountInfo,
  BypassCheck,
  ConnectionInfoRequest,
  CheckProfileRequest,
  CheckProfileResponse,
  Connector,
  CreateAccountRequest,
  ExtendAccountRequest,
  GrantToAccountRequest,
  HandOverRequest,
  HandOverResponse,
  ListHoldersRequest,
  ListHoldersResponse,
  ListManagedResponse,
  RemoveAccountRequest,
  RemoveAccountResponse,
  RevokeFromAccountRequest,
  RevokeFromAccountResponse,
} from '../contract.js';
import { describeOperation, rescrub, targetError, type ErrorContext } from '../errors.js';

export type OperationName =
  | 'createAccount'
  | 'extendAccount'
  | 'removeAccount'
  | 'grantToAccount'
  | 'revokeFromAccount'
  | 'listManaged'
  | 'listHolders'
  | 'describeAccount'
  | 'checkBypass'
  | 'checkProfile'
  | 'checkHealth';

/** The operation a kind's method is running, as the wrapper started it. */
export interface Operation {
  readonly name: OperationName;
  readonly account: string | undefined;
  /** Adds a secret made during the operation (a hash, a verifier) to those scrubbed from its error. */
  secret(value: string): void;
  /** `<kind> target "t": <name> of account "a" failed: <reason>` (not retryable unless said). */
  fail(reason: string, retryable?: boolean): TargetError;
}

/** What a kind implements: the Connector's operations, each given its Operation. */
export interface KindConnector {
  readonly grantsFormOneUnit?: boolean;
  /** Kinds whose accounts log in with keys: see Connector.publicKeyLogin. */
  readonly publicKeyLogin?: boolean;
  /** What the owner is handed to log in with (pure: no target call); see Connector.handOver. */
  handOver?(req: HandOverRequest): HandOverResponse;
  /**
   * Why an account name cannot be used by `operation` on this target (the
   * whole reason, as the error should say it), or null. Runs before the method.
   */
  checkAccount?(account: string, operation: OperationName): string | null;
  /** Why one grant of a create, grant or revoke request cannot be used (the whole reason), or null. Runs before the method. */
  checkGrant?(grant: string): string | null;
  /** The kind's error classification (its errors.ts): a driver error becomes a scrubbed TargetError. */
  classify(ctx: ErrorContext, err: unknown): TargetError;
  createAccount(req: CreateAccountRequest, op: Operation): Promise<void>;
  prepareSecret?(secret: string): void;
  extendAccount(req: ExtendAccountRequest, op: Operation): Promise<void>;
  removeAccount(req: RemoveAccountRequest, op: Operation): Promise<RemoveAccountResponse>;
  grantToAccount(req: GrantToAccountRequest, op: Operation): Promise<void>;
  revokeFromAccount(req: RevokeFromAccountRequest, op: Operation): Promise<RevokeFromAccountResponse>;
  listManaged(op: Operation): Promise<ListManagedResponse>;
  listHolders?(req: ListHoldersRequest, op: Operation): Promise<ListHoldersResponse>;
  describeAccount(req: { account: string }, op: Operation): Promise<AccountInfo>;
  checkBypass?(op: Operation): Promise<BypassCheck[]>;
  checkProfile?(req: CheckProfileRequest, op: Operation): Promise<CheckProfileResponse>;
  checkHealth(op: Operation): Promise<void>;
  connectionInfo(forGrant?: ConnectionInfoRequest): Record<string, string | number>;
  close(): Promise<void>;
}

/** One finished operation, for whoever wants to time them (metrics, logs). Never carries a secret. */
export interface OperationTiming {
  kind: string;
  target: string;
  operation: OperationName;
  ms: number;
  outcome: 'ok' | 'retryable' | 'failed';
}

/** An operation's error from outside a running operation (a shared step such as ssh's marker group). */
export function operationError(kind: string, target: string, operation: string, account: string | undefined, reason: string, retryable = false): TargetError {
  return new TargetError(target, `${describeOperation(kind, { target, operation, account })}: ${reason}`, retryable);
}

/** Classification for kinds whose own code already raises TargetErrors: anything else is not retryable. */
export function classifyPlain(kind: string) {
  return (ctx: ErrorContext, err: unknown): TargetError =>
    err instanceof TargetError ? rescrub(err, ctx.secrets) : targetError(kind, ctx, err instanceof Error ? err.message : String(err), false);
}

interface Wiring {
  kind: string;
  target: string;
  adminSecret: string;
  observe?: (t: OperationTiming) => void;
}

/** The Connector the broker uses: `impl`'s methods inside the operation wrapper. */
export function withOperations(w: Wiring, impl: KindConnector): Connector {
  const { kind, target } = w;
  let closed = false;

  async function run<T>(
    name: OperationName,
    account: string | undefined,
    secrets: string[],
    check: (op: Operation) => void,
    fn: (op: Operation) => Promise<T>,
  ): Promise<T> {
    const op: Operation = {
      name,
      account,
      secret: (value) => void secrets.push(value),
      fail: (reason, retryable = false) => operationError(kind, target, name, account, reason, retryable),
    };
    const started = performance.now();
    let outcome: OperationTiming['outcome'] = 'ok';
    try {
      if (closed) throw op.fail('the connector is closed');
      check(op);
      return await fn(op);
    } catch (err) {
      const ctx: ErrorContext = { target, operation: name, secrets: [...secrets, w.adminSecret], ...(account === undefined ? {} : { account }) };
      const e = impl.classify(ctx, err);
      outcome = e.retryable ? 'retryable' : 'failed';
      throw e;
    } finally {
      w.observe?.({ kind, target, operation: name, ms: performance.now() - started, outcome });
    }
  }

  const none = () => {};
  const account = (name: OperationName, a: string) => (op: Operation) => {
    const why = impl.checkAccount?.(a, name);
    if (why) throw op.fail(why);
  };
  const grants = (gs: string[]) => (op: Operation) => {
    if (!Array.isArray(gs)) throw op.fail('grants must be a list');
    for (const g of gs) {
      const why = typeof g === 'string' ? impl.checkGrant?.(g) : `grant ${JSON.stringify(g)} is not text`;
      if (why) throw op.fail(why);
    }
  };
  const expiry = (at: Date) => (op: Operation) => {
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw op.fail('expiresAt is not a valid date');
  };
  const all =
    (...checks: ((op: Operation) => void)[]) =>
    (op: Operation) =>
      checks.forEach((c) => c(op));

  const connector: Connector = {
    kind,
    target,
    createAccount: (req) =>
      run('createAccount', req.account, [req.secret], all(account('createAccount', req.account), grants(req.grants), expiry(req.expiresAt)), (op) =>
        impl.createAccount(req, op),
      ),
    extendAccount: (req) =>
      run('extendAccount', req.account, req.secret === undefined ? [] : [req.secret], all(account('extendAccount', req.account), expiry(req.expiresAt)), (op) =>
        impl.extendAccount(req, op),
      ),
    removeAccount: (req) => run('removeAccount', req.account, [], account('removeAccount', req.account), (op) => impl.removeAccount(req, op)),
    grantToAccount: (req) =>
      run('grantToAccount', req.account, [], all(account('grantToAccount', req.account), grants(req.grants)), (op) => impl.grantToAccount(req, op)),
    revokeFromAccount: (req) =>
      run('revokeFromAccount', req.account, [], all(account('revokeFromAccount', req.account), grants(req.grants)), (op) => impl.revokeFromAccount(req, op)),
    listManaged: () => run('listManaged', undefined, [], none, (op) => impl.listManaged(op)),
    describeAccount: (req) => run('describeAccount', req.account, [], account('describeAccount', req.account), (op) => impl.describeAccount(req, op)),
    checkHealth: () => run('checkHealth', undefined, [], none, (op) => impl.checkHealth(op)),
    connectionInfo: (forGrant) => impl.connectionInfo(forGrant),
    close: async () => {
      closed = true;
      await impl.close();
    },
  };
  if (impl.grantsFormOneUnit !== undefined) Object.assign(connector, { grantsFormOneUnit: impl.grantsFormOneUnit });
  if (impl.publicKeyLogin !== undefined) Object.assign(connector, { publicKeyLogin: impl.publicKeyLogin });
  if (impl.handOver) connector.handOver = impl.handOver.bind(impl);
  if (impl.prepareSecret) {
    const prepare = impl.prepareSecret.bind(impl);
    connector.prepareSecret = (secret) => {
      if (!closed) prepare(secret);
    };
  }
  if (impl.listHolders) {
    const list = impl.listHolders.bind(impl);
    connector.listHolders = (req) => run('listHolders', undefined, [], none, (op) => list(req, op));
  }
  if (impl.checkBypass) {
    const check = impl.checkBypass.bind(impl);
    connector.checkBypass = () => run('checkBypass', undefined, [], none, (op) => check(op));
  }
  if (impl.checkProfile) {
    const check = impl.checkProfile.bind(impl);
    connector.checkProfile = (req) => run('checkProfile', undefined, [], grants(req.grants), (op) => check(req, op));
  }
  return connector;
}
