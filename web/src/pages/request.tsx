// Request access: the profiles I may request and a form for one of them.

import { useState, type FormEvent } from 'react';
import { api, formatDuration, parseDuration, type Profile } from '../api.ts';
import { Badge, Empty, ErrorNote, Loading, PageHeader, errorText, useLoad } from '../ui.tsx';

export function RequestPage({ onRequested }: { onRequested: (message: string) => void }) {
  const { data, error, loading } = useLoad(() => api.profiles(), []);
  const [chosen, setChosen] = useState<string>();
  const profiles = data?.profiles.filter((p) => p.requestable) ?? [];
  const selected = profiles.find((p) => p.name === chosen);

  return (
    <>
      <PageHeader title="Request access">Pick a profile, say for how long and why. Access is removed automatically when the time is up.</PageHeader>
      {error ? <ErrorNote>Could not load profiles: {error}</ErrorNote> : null}
      {loading && !data ? <Loading /> : null}
      {data && profiles.length === 0 ? (
        <Empty title="No profiles to request">No policy lets you request a profile yet. Ask an admin to add you to one.</Empty>
      ) : null}
      <div className="split">
        <ul className="profile-list" aria-label="Profiles you may request">
          {profiles.map((p) => (
            <li key={p.name}>
              <button
                type="button"
                className={`profile ${p.name === chosen ? 'selected' : ''}`}
                aria-pressed={p.name === chosen}
                onClick={() => setChosen(p.name)}
              >
                <span className="profile-head">
                  <span className="profile-name">{p.name}</span>
                  {p.approval === 'auto' ? <Badge kind="ok">instant</Badge> : <Badge kind="warn">needs {p.approval}</Badge>}
                </span>
                {p.description ? <span className="profile-desc">{p.description}</span> : null}
                <span className="meta">
                  <span>
                    on <strong>{p.target}</strong> ({p.targetKind}){p.critical ? <Badge kind="bad">critical</Badge> : null}
                  </span>
                  <span>{p.mode === 'ephemeral-account' ? 'temporary account' : 'your own account'}</span>
                  <span>up to {p.maxDuration}</span>
                </span>
              </button>
            </li>
          ))}
        </ul>
        {selected ? (
          <RequestForm key={selected.name} profile={selected} onRequested={onRequested} />
        ) : profiles.length ? (
          <div className="card form-placeholder">
            <Empty title="Choose a profile">Its details and the request form appear here.</Empty>
          </div>
        ) : null}
      </div>
    </>
  );
}

function RequestForm({ profile, onRequested }: { profile: Profile; onRequested: (message: string) => void }) {
  const defaultMs = Math.min(profile.maxDurationMs, 3_600_000);
  const [duration, setDuration] = useState(formatDuration(defaultMs));
  const [reason, setReason] = useState('');
  const [ticket, setTicket] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ms = parseDuration(duration);
  const durationProblem =
    ms === null ? 'Write a duration like 15m, 1h or 1h30m.' : ms > profile.maxDurationMs ? `At most ${profile.maxDuration} for this profile.` : undefined;
  const reasonProblem = profile.requireReason && !reason.trim() ? 'A reason is required for this profile.' : undefined;
  const ticketProblem = profile.requireTicket && !ticket.trim() ? 'A ticket is required for this profile.' : undefined;
  const [touched, setTouched] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (durationProblem || reasonProblem || ticketProblem) return;
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.createRequest({
        profile: profile.name,
        duration: duration.trim(),
        ...(reason.trim() ? { reason: reason.trim() } : {}),
        ...(ticket.trim() ? { ticket: ticket.trim() } : {}),
      });
      onRequested(r.grant ? `Access to ${profile.name} is ${r.grant.status}.` : `Request for ${profile.name} sent to approvers.`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card request-form" onSubmit={submit} aria-labelledby="form-title" noValidate>
      <h2 id="form-title">Request {profile.name}</h2>
      <dl className="facts">
        <div>
          <dt>Target</dt>
          <dd>
            {profile.target} {profile.critical ? <Badge kind="bad">critical</Badge> : null}
          </dd>
        </div>
        <div>
          <dt>Delivery</dt>
          <dd>{profile.mode === 'ephemeral-account' ? 'Temporary account' : 'Roles on your own account'}</dd>
        </div>
        <div>
          <dt>Permissions</dt>
          <dd>{profile.grants.join(', ')}</dd>
        </div>
        <div>
          <dt>Approval</dt>
          <dd>{profile.approval === 'auto' ? 'Automatic' : profile.approval}</dd>
        </div>
      </dl>
      <label htmlFor="duration">Duration</label>
      <input
        id="duration"
        value={duration}
        onChange={(e) => setDuration(e.target.value)}
        aria-describedby="duration-hint duration-error"
        aria-invalid={touched && !!durationProblem}
        inputMode="text"
        autoComplete="off"
      />
      <p id="duration-hint" className="hint">
        At most {profile.maxDuration}. The clock starts when access becomes active.
      </p>
      {touched && durationProblem ? (
        <p id="duration-error" className="field-error">
          {durationProblem}
        </p>
      ) : null}

      <label htmlFor="reason">Reason{profile.requireReason ? <span className="req"> (required)</span> : <span className="opt"> (optional)</span>}</label>
      <textarea
        id="reason"
        rows={3}
        maxLength={1000}
        value={reason}
        onChange={(e) => setReason(e.target.value)}
        aria-invalid={touched && !!reasonProblem}
        aria-describedby="reason-error"
        required={profile.requireReason}
      />
      {touched && reasonProblem ? (
        <p id="reason-error" className="field-error">
          {reasonProblem}
        </p>
      ) : null}

      <label htmlFor="ticket">Ticket{profile.requireTicket ? <span className="req"> (required)</span> : <span className="opt"> (optional)</span>}</label>
      <input
        id="ticket"
        maxLength={200}
        value={ticket}
        onChange={(e) => setTicket(e.target.value)}
        placeholder="e.g. INC-42"
        aria-invalid={touched && !!ticketProblem}
        aria-describedby="ticket-error"
      />
      {touched && ticketProblem ? (
        <p id="ticket-error" className="field-error">
          {ticketProblem}
        </p>
      ) : null}

      {error ? <ErrorNote>{error}</ErrorNote> : null}
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Requesting…' : profile.approval === 'auto' ? 'Get access' : 'Ask for approval'}
      </button>
    </form>
  );
}
