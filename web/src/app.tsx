// The shell: sign-in, navigation, the live event stream and notifications.

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, retryStepUp, type Session } from './api.ts';
import { AccessPage } from './pages/access.tsx';
import { AdminPage } from './pages/admin.tsx';
import { ApprovalsPage } from './pages/approvals.tsx';
import { AuditPage } from './pages/audit.tsx';
import { KeysPage } from './pages/keys.tsx';
import { RequestPage } from './pages/request.tsx';
import { SessionDetailPage, SessionsPage } from './pages/sessions.tsx';
import { ZspPage } from './pages/zsp.tsx';
import { ErrorNote, Link, LiveContext, errorText, navigate, usePath } from './ui.tsx';

const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

interface Toast {
  id: number;
  text: string;
  kind: 'ok' | 'bad' | 'info';
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [bootError, setBootError] = useState<string>();

  useEffect(() => {
    api.session().then(setSession, (err: unknown) => {
      if ((err as { status?: number }).status === 401) setSession(null);
      else setBootError(errorText(err));
    });
  }, []);

  if (bootError)
    return (
      <main className="center">
        <ErrorNote>{bootError}</ErrorNote>
      </main>
    );
  if (session === undefined)
    return (
      <main className="center">
        <p className="loading">Loading…</p>
      </main>
    );
  if (session === null) return <SignIn onSignedIn={setSession} />;
  return <Shell session={session} onSignedOut={() => setSession(null)} />;
}

/** Sign-in: single sign-on when the broker has an identity provider, and a Stint token (service users, bootstrap). */
function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [sso, setSso] = useState(false);
  useEffect(() => {
    api.sso().then(
      (r) => setSso(r.enabled),
      () => setSso(false),
    );
  }, []);
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const s = await api.signIn(token);
      setToken('');
      onSignedIn(s);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <div className="brand brand-lg">
          <span className="logo" aria-hidden="true" />
          Stint
        </div>
        <h1 id="signin-title">Sign in</h1>
        <p className="muted">Just-in-time access: ask for what you need, for as long as you need it.</p>
        {sso ? (
          <>
            <a className="btn btn-primary btn-block" href={`/v1/sso/login?returnTo=${encodeURIComponent(window.location.pathname)}`} data-testid="sso">
              Sign in with SSO
            </a>
            <p className="hint">Or, for service users, a Stint token:</p>
          </>
        ) : null}
        <label htmlFor="token">Stint token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={token}
          onChange={(e) => setToken(e.target.value)}
          placeholder="stint_…"
          aria-describedby="token-hint"
          autoFocus
        />
        <p id="token-hint" className="hint">
          Ask an admin for one (<code>stint tokens create --user NAME</code>). It is exchanged for a browser session and not stored.
        </p>
        {error ? <ErrorNote>{error}</ErrorNote> : null}
        <button type="submit" className={`btn ${sso ? '' : 'btn-primary '}btn-block`} disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in with token'}
        </button>
      </form>
    </main>
  );
}

function Shell({ session, onSignedOut }: { session: Session; onSignedOut: () => void }) {
  const path = usePath();
  const [version, setVersion] = useState(0);
  const [connected, setConnected] = useState(false);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [pendingApprovals, setPendingApprovals] = useState(0);
  const nextId = useRef(1);

  const toast = useCallback((text: string, kind: Toast['kind'] = 'info') => {
    const id = nextId.current++;
    setToasts((t) => [...t.slice(-1), { id, text, kind }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), 5000);
  }, []);

  // Live updates: the broker's event stream (same-origin, cookie-authenticated).
  useEffect(() => {
    const es = new EventSource('/v1/events');
    const bump = () => setVersion((v) => v + 1);
    es.addEventListener('ready', () => setConnected(true));
    es.onerror = () => setConnected(false);
    es.addEventListener('request.decided', (e) => {
      const d = JSON.parse((e as MessageEvent).data) as { status: string };
      toast(d.status === 'approved' ? 'Your request was approved.' : `Your request was ${d.status.replace('-', ' ')}.`, d.status === 'approved' ? 'ok' : 'bad');
      bump();
    });
    es.addEventListener('grant.active', () => {
      toast('Your access is active.', 'ok');
      bump();
    });
    es.addEventListener('grant.revoked', (e) => {
      const d = JSON.parse((e as MessageEvent).data) as { reason: string | null };
      toast(d.reason === 'expired' ? 'A grant expired; its access was removed.' : 'A grant ended; its access was removed.', 'info');
      bump();
    });
    es.addEventListener('grant.expiring', () => {
      toast('A grant expires in less than 5 minutes.', 'info');
      bump();
    });
    for (const ev of ['request.created', 'grant.changed', 'approvals.changed', 'grants.changed']) es.addEventListener(ev, bump);
    es.addEventListener('signed-out', () => {
      es.close();
      onSignedOut();
    });
    return () => es.close();
  }, [toast, onSignedOut]);

  // Back from a step-up sign-in: the change that needed it is sent once more.
  useEffect(() => {
    void retryStepUp().then((r) => {
      if (!r) return;
      if (r.error) toast(errorText(r.error), 'bad');
      else {
        toast('Signed in again; done.', 'ok');
        setVersion((v) => v + 1);
      }
    });
  }, [toast]);

  useEffect(() => {
    api.requests('approvable', 'pending').then(
      (r) => setPendingApprovals(r.requests.length),
      () => {},
    );
  }, [version, path]);

  async function signOut() {
    await api.signOut().catch(() => {});
    onSignedOut();
  }

  const pages = [
    { path: '/', label: 'My access' },
    { path: '/request', label: 'Request access' },
    { path: '/approvals', label: 'Approvals', count: pendingApprovals },
    { path: '/sessions', label: 'Sessions' },
    { path: '/keys', label: 'SSH keys' },
    { path: '/audit', label: 'Audit' },
    ...(session.admin ? [{ path: '/admin', label: 'Admin' }] : []),
    ...(session.admin || session.roles.includes('auditor') ? [{ path: '/zsp', label: 'Standing privileges' }] : []),
  ];
  const sessionId = /^\/sessions\/([^/]+)$/.exec(path)?.[1];
  const section = sessionId !== undefined ? '/sessions' : path;
  const known = pages.some((p) => p.path === section);

  return (
    <LiveContext.Provider value={{ version, connected }}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <div className="layout">
        <header className="topbar">
          <div className="brand">
            <span className="logo" aria-hidden="true" />
            Stint
          </div>
          <nav aria-label="Main" className="nav">
            {pages.map((p) => (
              <Link key={p.path} to={p.path} current={p.path === section} className="nav-link">
                {p.label}
                {p.count ? (
                  <span className="count" aria-label={`${p.count} waiting`}>
                    {p.count}
                  </span>
                ) : null}
              </Link>
            ))}
          </nav>
          <div className="who">
            <span className={`live-dot ${connected ? 'on' : ''}`} title={connected ? 'Live updates on' : 'Reconnecting…'} aria-hidden="true" />
            <span className="sr-only">{connected ? 'Live updates on' : 'Live updates reconnecting'}</span>
            <span className="who-name" data-testid="whoami">
              {session.user}
              {session.roles.map((r) => (
                <span key={r} className="badge badge-info">
                  {r}
                </span>
              ))}
            </span>
            <button type="button" className="btn btn-ghost btn-sm" onClick={signOut}>
              Sign out
            </button>
          </div>
        </header>
        <main id="main" className="main">
          {path === '/' ? <AccessPage user={session.user} /> : null}
          {path === '/request' ? (
            <RequestPage
              onRequested={(msg) => {
                toast(msg, 'ok');
                navigate('/');
              }}
            />
          ) : null}
          {path === '/approvals' ? <ApprovalsPage user={session.user} toast={toast} /> : null}
          {path === '/sessions' ? <SessionsPage admin={session.admin} /> : null}
          {sessionId !== undefined ? <SessionDetailPage id={safeDecode(sessionId)} /> : null}
          {path === '/keys' ? <KeysPage user={session.user} toast={toast} /> : null}
          {path === '/audit' ? <AuditPage admin={session.admin} /> : null}
          {path === '/admin' && session.admin ? <AdminPage toast={toast} /> : null}
          {path === '/zsp' && (session.admin || session.roles.includes('auditor')) ? <ZspPage /> : null}
          {!known ? (
            <section className="card">
              <h1>Page not found</h1>
              <p>
                There is nothing at <code>{path}</code>. <Link to="/">Go to My access</Link>.
              </p>
            </section>
          ) : null}
        </main>
      </div>
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`}>
            {t.text}
          </div>
        ))}
      </div>
    </LiveContext.Provider>
  );
}
