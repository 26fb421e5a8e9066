// Audit: a filterable timeline with the hash-chain verification status, and
// an export as JSON lines (what a SIEM ingests).

import { useState, type FormEvent } from 'react';
import { api, when, type AuditEvent } from '../api.ts';
import { Badge, Empty, ErrorNote, Loading, PageHeader, errorText, useLoad } from '../ui.tsx';

interface Filter {
  user: string;
  target: string;
  action: string;
  since: string;
  until: string;
}
const empty: Filter = { user: '', target: '', action: '', since: '', until: '' };
const actions = [
  'request.created',
  'request.approval',
  'request.denial',
  'request.approved',
  'request.denied',
  'request.cancelled',
  'request.expired-unapproved',
  'grant.provisioning',
  'grant.activated',
  'grant.credentials-viewed',
  'grant.extended',
  'grant.revoking',
  'grant.revoked',
  'grant.revoke-failing',
  'grant.provisioning-failed',
  'reconcile.drift-removed',
  'reconcile.drift-revoked',
  'reconcile.account-missing',
  'token.created',
  'token.revoked',
  'config.reloaded',
];

const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);

export function AuditPage({ admin }: { admin: boolean }) {
  const [draft, setDraft] = useState<Filter>(empty);
  const [filter, setFilter] = useState<Filter>(empty);
  const query = {
    user: filter.user || undefined,
    target: filter.target || undefined,
    action: filter.action || undefined,
    since: toIso(filter.since),
    until: toIso(filter.until),
  };
  const { data, error, loading } = useLoad(async () => {
    // The newest events: page through to the end, keep the last 500 for display.
    const events: AuditEvent[] = [];
    let afterSeq: number | undefined;
    for (let i = 0; i < 20; i++) {
      const page = await api.audit({ ...query, afterSeq, limit: 1000 });
      events.push(...page.events);
      if (page.events.length < 1000) break;
      afterSeq = page.events[page.events.length - 1]!.seq;
    }
    return { events: events.slice(-500).reverse(), all: events };
  }, [JSON.stringify(filter)]);
  const verify = useLoad(() => api.verify(), []);
  const [exportError, setExportError] = useState<string>();

  function apply(e: FormEvent) {
    e.preventDefault();
    setFilter(draft);
  }

  function exportJsonl() {
    try {
      const lines = (data?.all ?? []).map((e) => JSON.stringify(e)).join('\n') + '\n';
      const url = URL.createObjectURL(new Blob([lines], { type: 'application/x-ndjson' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `stint-audit-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) {
      setExportError(errorText(err));
    }
  }

  const v = verify.data;
  return (
    <>
      <PageHeader title="Audit">
        {admin ? 'Every decision and every change on a target, hash-chained.' : 'Events about you, hash-chained with everyone else’s.'}
      </PageHeader>
      <div className={`chain ${v ? (v.ok ? 'chain-ok' : 'chain-bad') : ''}`} role="status" data-testid="chain-status">
        {verify.error ? (
          <>Chain verification unavailable: {verify.error}</>
        ) : !v ? (
          'Verifying the audit chain…'
        ) : v.ok ? (
          <>
            <strong>Chain verified</strong> · {v.events} events intact · head <code>{v.head?.slice(0, 24)}…</code>
          </>
        ) : (
          <>
            <strong>Chain broken</strong> at event {v.firstBadSeq}: {v.problem}
          </>
        )}
      </div>
      <form className="card filters" onSubmit={apply} aria-label="Filter audit events">
        <div className="field">
          <label htmlFor="f-user">User</label>
          <input id="f-user" value={draft.user} onChange={(e) => setDraft({ ...draft, user: e.target.value })} placeholder="any" />
        </div>
        <div className="field">
          <label htmlFor="f-target">Target</label>
          <input id="f-target" value={draft.target} onChange={(e) => setDraft({ ...draft, target: e.target.value })} placeholder="any" />
        </div>
        <div className="field">
          <label htmlFor="f-action">Event type</label>
          <select id="f-action" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })}>
            <option value="">any</option>
            {actions.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-since">From</label>
          <input id="f-since" type="datetime-local" step="1" value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="f-until">To</label>
          <input id="f-until" type="datetime-local" step="1" value={draft.until} onChange={(e) => setDraft({ ...draft, until: e.target.value })} />
        </div>
        <div className="filter-actions">
          <button type="submit" className="btn btn-primary">
            Apply
          </button>
          <button
            type="button"
            className="btn btn-ghost"
            onClick={() => {
              setDraft(empty);
              setFilter(empty);
            }}
          >
            Clear
          </button>
          <button type="button" className="btn" onClick={exportJsonl} disabled={!data?.all.length}>
            Export JSON lines
          </button>
        </div>
      </form>
      {exportError ? <ErrorNote>{exportError}</ErrorNote> : null}
      {error ? <ErrorNote>Could not load the audit trail: {error}</ErrorNote> : null}
      {loading && !data ? <Loading /> : null}
      {data && data.events.length === 0 ? <Empty title="No events match">Try a wider time range or clear the filters.</Empty> : null}
      {data && data.events.length > 0 ? (
        <div className="table-wrap">
          <table className="table" aria-label="Audit events, newest first">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Actor</th>
                <th scope="col">User</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {data.events.map((e) => (
                <tr key={e.seq}>
                  <td className="num">{e.seq}</td>
                  <td className="nowrap">{when(e.at)}</td>
                  <td>
                    <Badge kind={e.action.includes('fail') || e.action.endsWith('denied') ? 'bad' : e.action.startsWith('grant.') ? 'info' : 'muted'}>
                      {e.action}
                    </Badge>
                  </td>
                  <td>{e.actor}</td>
                  <td>{e.user ?? '—'}</td>
                  <td>{e.target ?? '—'}</td>
                  <td className="details">{summarize(e)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

function summarize(e: AuditEvent): string {
  const d = e.details;
  const parts = Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .slice(0, 4)
    .map(([k, v]) => `${k}: ${String(v)}`);
  return [e.requestId, e.grantId, ...parts].filter(Boolean).join(' · ');
}
