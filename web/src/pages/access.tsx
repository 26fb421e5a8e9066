// My access: pending requests, live grants with a countdown, the credential
// on demand, extend and check-in, and what happened recently.

import { useState } from 'react';
import { api, age, clock, when, type AccessRequest, type Credentials, type Grant } from '../api.ts';
import { Badge, Empty, ErrorNote, Link, Loading, PageHeader, Status, errorText, useLoad, useTick } from '../ui.tsx';

export function AccessPage({ user }: { user: string }) {
  const { data, error, loading, reload } = useLoad(async () => {
    const [requests, grants, ended] = await Promise.all([api.requests('mine'), api.grants(), api.grants({ history: true, limit: 50 })]);
    return { requests: requests.requests, grants: grants.grants, ended: ended.grants.filter((g) => g.status === 'revoked'), loadedAt: Date.now() };
  }, [user]);
  const pending = data?.requests.filter((r) => r.status === 'pending') ?? [];
  const decided = data?.requests.filter((r) => r.status !== 'pending' && r.status !== 'approved').slice(0, 6) ?? [];

  return (
    <>
      <PageHeader title="My access">
        Signed in as <strong>{user}</strong>. Everything here updates live.
      </PageHeader>
      {error ? <ErrorNote>Could not load your access: {error}</ErrorNote> : null}
      {loading && !data ? <Loading /> : null}
      {data ? (
        <>
          <section aria-labelledby="grants-title" className="section">
            <h2 id="grants-title">Active access</h2>
            {data.grants.length === 0 ? (
              <Empty title="No active access">
                You hold no privileges right now. <Link to="/request">Request access</Link> when you need it.
              </Empty>
            ) : (
              <ul className="grid" aria-label="Active grants">
                {data.grants.map((g) => (
                  <GrantCard key={g.id} grant={g} loadedAt={data.loadedAt} onChanged={reload} />
                ))}
              </ul>
            )}
          </section>
          <section aria-labelledby="pending-title" className="section">
            <h2 id="pending-title">Waiting for approval</h2>
            {pending.length === 0 ? (
              <Empty title="Nothing waiting">Requests that need an approver show up here until someone decides.</Empty>
            ) : (
              <ul className="list" aria-label="Pending requests">
                {pending.map((r) => (
                  <PendingRow key={r.id} request={r} onChanged={reload} />
                ))}
              </ul>
            )}
          </section>
          {decided.length || data.ended.length ? (
            <section aria-labelledby="recent-title" className="section">
              <h2 id="recent-title">Recently</h2>
              <ul className="list compact" aria-label="Recent requests and grants">
                {decided.map((r) => (
                  <li key={r.id} className="row" data-request={r.id}>
                    <div className="row-main">
                      <span className="row-title">
                        {r.profile} <Status status={r.status} />
                      </span>
                      <span className="meta">
                        {r.status === 'denied' ? (
                          <>
                            Denied by {r.decidedBy}
                            {r.decisionComment ? <>: “{r.decisionComment}”</> : null}
                          </>
                        ) : (
                          <>{r.status.replace('-', ' ')}</>
                        )}
                        <span>{age(r.decidedAt ?? r.createdAt)}</span>
                      </span>
                    </div>
                  </li>
                ))}
                {data.ended.slice(0, 6).map((g) => (
                  <li key={g.id} className="row" data-grant={g.id}>
                    <div className="row-main">
                      <span className="row-title">
                        {g.profile}{' '}
                        <Badge kind="muted">{g.revokeReason === 'expired' ? 'expired' : g.revokeReason === 'checked-in' ? 'checked in' : 'ended'}</Badge>
                      </span>
                      <span className="meta">
                        <span>access removed from {g.target}</span>
                        <span>{g.revokedAt ? age(g.revokedAt) : ''}</span>
                      </span>
                    </div>
                  </li>
                ))}
              </ul>
            </section>
          ) : null}
        </>
      ) : null}
    </>
  );
}

function PendingRow({ request: r, onChanged }: { request: AccessRequest; onChanged: () => void }) {
  const now = useTick(5000);
  const [error, setError] = useState<string>();
  return (
    <li className="row" data-request={r.id}>
      <div className="row-main">
        <span className="row-title">
          {r.profile} <Status status="pending" />
        </span>
        <span className="meta">
          <span>on {r.target}</span>
          <span>for {r.duration}</span>
          <span>asked {age(r.createdAt, now)}</span>
          <span>
            needs {r.requiredApprovals} approval{r.requiredApprovals > 1 ? 's' : ''}
          </span>
        </span>
        {r.reason ? <span className="reason">“{r.reason}”</span> : null}
        {error ? <ErrorNote>{error}</ErrorNote> : null}
      </div>
      <button type="button" className="btn btn-ghost" onClick={() => api.cancel(r.id).then(onChanged, (e: unknown) => setError(errorText(e)))}>
        Cancel request
      </button>
    </li>
  );
}

function GrantCard({ grant: g, loadedAt, onChanged }: { grant: Grant; loadedAt: number; onChanged: () => void }) {
  const now = useTick(1000);
  const [creds, setCreds] = useState<Credentials>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [by, setBy] = useState('15m');
  // Count down with the broker's clock: remainingMs was measured when the list loaded. The tick can
  // predate the load by up to a second; then no time has passed yet (it showed 30:01 for a 30m grant).
  const remaining = g.remainingMs === null ? null : g.remainingMs - Math.max(0, now - loadedAt);
  const total = g.activatedAt && g.expiresAt ? Date.parse(g.expiresAt) - Date.parse(g.activatedAt) : null;
  const pct = remaining !== null && total ? Math.max(0, Math.min(100, (remaining / total) * 100)) : 0;

  async function act(what: string, fn: () => Promise<unknown>) {
    setBusy(what);
    setError(undefined);
    try {
      await fn();
      onChanged();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(undefined);
    }
  }

  return (
    <li className="card grant" data-grant={g.id} aria-labelledby={`g-${g.id}`}>
      <div className="grant-head">
        <h3 id={`g-${g.id}`}>{g.profile}</h3>
        <Status status={g.status} />
      </div>
      <p className="meta">
        <span>{g.target}</span>
        <span>
          {g.mode === 'ephemeral-account' ? 'temporary account' : 'your account'} <code>{g.account}</code>
        </span>
      </p>
      {g.status === 'active' && remaining !== null ? (
        <div className="countdown">
          <span className="countdown-label">Expires in</span>
          <span className="countdown-value" role="timer" aria-live="off" data-testid="countdown">
            {clock(remaining)}
          </span>
          <div className="bar" aria-hidden="true">
            <div
              className={`bar-fill ${pct < 15 ? 'low' : ''}`}
              ref={(el) => {
                if (el) el.style.width = `${pct}%`;
              }}
            />
          </div>
          <span className="hint">
            at {when(g.expiresAt)} · up to {g.maxDuration} from activation
          </span>
        </div>
      ) : g.status === 'revoke-failing' ? (
        <ErrorNote>Removing this access keeps failing; Stint retries until it succeeds and has alerted the admins.</ErrorNote>
      ) : (
        <p className="hint">{g.status === 'provisioning' ? 'Creating your access on the target…' : 'Removing access…'}</p>
      )}
      {creds ? <CredentialPanel creds={creds} grantId={g.id} onHide={() => setCreds(undefined)} /> : null}
      {error ? <ErrorNote>{error}</ErrorNote> : null}
      {g.status === 'active' ? (
        <div className="actions">
          {!creds ? (
            <button
              type="button"
              className="btn btn-primary"
              disabled={!!busy}
              onClick={() => act('creds', async () => setCreds((await api.credentials(g.id)).credentials))}
            >
              Show credential
            </button>
          ) : null}
          <div className="inline-field">
            <label htmlFor={`extend-${g.id}`} className="sr-only">
              Extend by
            </label>
            <select id={`extend-${g.id}`} value={by} onChange={(e) => setBy(e.target.value)}>
              {['5m', '15m', '30m', '1h'].map((d) => (
                <option key={d} value={d}>
                  +{d}
                </option>
              ))}
            </select>
            <button type="button" className="btn" disabled={!!busy} onClick={() => act('extend', () => api.extend(g.id, by))}>
              Extend
            </button>
          </div>
          <button type="button" className="btn btn-danger-ghost" disabled={!!busy} onClick={() => act('revoke', () => api.revoke(g.id))}>
            {busy === 'revoke' ? 'Checking in…' : 'Check in'}
          </button>
        </div>
      ) : null}
    </li>
  );
}

function CredentialPanel({ creds, grantId, onHide }: { creds: Credentials; grantId: string; onHide: () => void }) {
  const [copied, setCopied] = useState<string>();
  const copy = (what: string, text: string) => {
    void navigator.clipboard?.writeText(text).then(
      () => setCopied(what),
      () => setCopied(undefined),
    );
  };
  const host = creds.host ?? creds.connection.host;
  const port = creds.port ?? creds.connection.port;
  const db = creds.database ?? creds.connection.database;
  const psql = creds.kind === 'postgres' ? `psql "host=${host} port=${port} dbname=${db} user=${creds.username}"` : null;
  const keyFile = `~/.ssh/stint-${grantId}`;
  return (
    <div className="credential" role="region" aria-label="Credential">
      <p className="hint">Shown on request and logged in the audit trail. Not stored in the browser.</p>
      <dl className="facts">
        <div>
          <dt>Username</dt>
          <dd>
            <code data-testid="cred-username">{creds.username}</code>{' '}
            <CopyButton label="Copy username" done={copied === 'user'} onCopy={() => copy('user', creds.username)} />
          </dd>
        </div>
        {creds.login !== undefined ? (
          // SSH: a key login, never a password.
          <div>
            <dt>Log in with</dt>
            <dd>
              {creds.privateKey ? (
                <>
                  <span>this private key, made for this grant (you have no SSH key registered):</span>{' '}
                  <CopyButton label="Copy private key" done={copied === 'key'} onCopy={() => copy('key', creds.privateKey!)} />
                  <pre className="secret" data-testid="cred-private-key">
                    <code>{creds.privateKey}</code>
                  </pre>
                </>
              ) : (
                <span data-testid="cred-public-keys">
                  your registered SSH key{creds.publicKeys?.length === 1 ? '' : 's'}{' '}
                  {(creds.publicKeys ?? []).map((k) => `${k.fingerprint}${k.comment ? ` (${k.comment})` : ''}`).join(', ')}
                </span>
              )}
            </dd>
          </div>
        ) : (
          <div>
            <dt>Password</dt>
            <dd>
              {creds.password ? (
                <>
                  <code data-testid="cred-password" className="secret">
                    {creds.password}
                  </code>{' '}
                  <CopyButton label="Copy password" done={copied === 'pass'} onCopy={() => copy('pass', creds.password!)} />
                </>
              ) : (
                <span>Use your own account’s password.</span>
              )}
            </dd>
          </div>
        )}
        {host ? (
          <div>
            <dt>Address</dt>
            <dd>
              <code>
                {host}:{port}
              </code>
              {db ? (
                <>
                  {' '}
                  database <code>{db}</code>
                </>
              ) : null}
            </dd>
          </div>
        ) : null}
      </dl>
      <p className="hint">Connect:</p>
      {creds.login !== undefined ? (
        <>
          {creds.privateKey ? (
            <pre className="cmd">
              <code>
                stint creds {grantId} --key-file {keyFile}
              </code>
            </pre>
          ) : null}
          <pre className="cmd">
            <code data-testid="cred-login">{creds.login.replace('KEYFILE', keyFile)}</code>
          </pre>
          {creds.connection.hostKeySha256 ? (
            <p className="hint">
              The host’s key is <code>{creds.connection.hostKeySha256}</code>: compare it at the first login.
            </p>
          ) : null}
        </>
      ) : (
        <pre className="cmd">
          <code>stint connect {grantId}</code>
        </pre>
      )}
      {psql ? (
        <pre className="cmd">
          <code>{psql}</code>
        </pre>
      ) : null}
      <button type="button" className="btn btn-ghost btn-sm" onClick={onHide}>
        Hide credential
      </button>
    </div>
  );
}

function CopyButton({ label, done, onCopy }: { label: string; done: boolean; onCopy: () => void }) {
  return (
    <button type="button" className="btn btn-ghost btn-sm" onClick={onCopy} aria-label={label}>
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}
