// Approvals inbox: pending requests I may decide. My own requests are never
// decidable here, as in the API.

import { useState } from 'react';
import { api, age, type AccessRequest } from '../api.ts';
import { Badge, Empty, ErrorNote, Loading, PageHeader, errorText, useLoad, useTick } from '../ui.tsx';

export function ApprovalsPage({ user, toast }: { user: string; toast: (text: string, kind?: 'ok' | 'bad' | 'info') => void }) {
  const { data, error, loading, reload } = useLoad(async () => {
    const [requests, targets] = await Promise.all([api.requests('approvable', 'pending'), api.targets()]);
    return { requests: requests.requests, critical: new Set(targets.targets.filter((t) => t.critical).map((t) => t.name)) };
  }, []);
  return (
    <>
      <PageHeader title="Approvals">Requests waiting for your decision. You can never approve your own.</PageHeader>
      {error ? <ErrorNote>Could not load approvals: {error}</ErrorNote> : null}
      {loading && !data ? <Loading /> : null}
      {data && data.requests.length === 0 ? <Empty title="Inbox zero">No requests are waiting for you. New ones appear here as they arrive.</Empty> : null}
      {data && data.requests.length > 0 ? (
        <ul className="list" aria-label="Requests waiting for approval">
          {data.requests.map((r) => (
            <ApprovalRow
              key={r.id}
              request={r}
              critical={data.critical.has(r.target)}
              self={r.user === user}
              onDone={(msg) => {
                toast(msg, 'ok');
                reload();
              }}
            />
          ))}
        </ul>
      ) : null}
    </>
  );
}

function ApprovalRow({ request: r, critical, self, onDone }: { request: AccessRequest; critical: boolean; self: boolean; onDone: (msg: string) => void }) {
  const now = useTick(5000);
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  async function decide(kind: 'approve' | 'deny') {
    if (kind === 'deny' && !comment.trim()) {
      setError('Say why you deny it: the requester sees your comment.');
      document.getElementById(`comment-${r.id}`)?.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      if (kind === 'approve') await api.approve(r.id, comment.trim());
      else await api.deny(r.id, comment.trim());
      onDone(`${kind === 'approve' ? 'Approved' : 'Denied'} ${r.user}’s request for ${r.profile}.`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <li className={`card approval ${critical ? 'is-critical' : ''}`} data-request={r.id} aria-labelledby={`a-${r.id}`}>
      <div className="approval-head">
        <h2 id={`a-${r.id}`} className="h3">
          <span className="who-chip">{r.user}</span> wants <strong>{r.profile}</strong>
        </h2>
        <span className="meta">
          <span>asked {age(r.createdAt, now)}</span>
        </span>
      </div>
      <dl className="facts facts-row">
        <div>
          <dt>Target</dt>
          <dd>
            {r.target} {critical ? <Badge kind="bad">critical</Badge> : null}
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{r.duration}</dd>
        </div>
        <div>
          <dt>Delivery</dt>
          <dd>{r.mode === 'ephemeral-account' ? 'temporary account' : 'own account'}</dd>
        </div>
        <div>
          <dt>Approvals</dt>
          <dd>{r.requiredApprovals} needed</dd>
        </div>
        {r.ticket ? (
          <div>
            <dt>Ticket</dt>
            <dd>{r.ticket}</dd>
          </div>
        ) : null}
      </dl>
      <p className="reason">{r.reason ? <>“{r.reason}”</> : <span className="muted">No reason given.</span>}</p>
      {self ? (
        <p className="hint">This is your own request; someone else must decide it.</p>
      ) : (
        <div className="decide">
          <label htmlFor={`comment-${r.id}`}>
            Comment <span className="opt">(required to deny)</span>
          </label>
          <input id={`comment-${r.id}`} value={comment} onChange={(e) => setComment(e.target.value)} maxLength={1000} />
          {error ? <ErrorNote>{error}</ErrorNote> : null}
          <div className="actions">
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => decide('approve')}>
              Approve
            </button>
            <button type="button" className="btn btn-danger-ghost" disabled={busy} onClick={() => decide('deny')}>
              Deny
            </button>
          </div>
        </div>
      )}
    </li>
  );
}
