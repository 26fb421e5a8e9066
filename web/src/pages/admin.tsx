// Admin: target health, revoke-failing alerts, every live grant with revoke,
// and the profiles and policies from the config file.

import { useState } from 'react';
import { api, clock, when, type Grant } from '../api.ts';
import { Badge, Empty, ErrorNote, Loading, PageHeader, Status, errorText, useLoad, useTick } from '../ui.tsx';

export function AdminPage({ toast }: { toast: (text: string, kind?: 'ok' | 'bad' | 'info') => void }) {
  const targets = useLoad(() => api.adminTargets(), []);
  const grants = useLoad(async () => ({ grants: (await api.grants({ all: true })).grants, loadedAt: Date.now() }), []);
  const config = useLoad(() => api.adminConfig(), []);
  const failing = grants.data?.grants.filter((g) => g.status === 'revoke-failing') ?? [];

  return (
    <>
      <PageHeader title="Admin">Targets, live access and the policy in force.</PageHeader>
      {failing.length ? (
        <div className="alert" role="alert">
          <strong>
            {failing.length} revocation{failing.length > 1 ? 's are' : ' is'} failing.
          </strong>{' '}
          Stint keeps retrying; access stays on the target until it succeeds:{' '}
          {failing.map((g) => `${g.user} on ${g.target} (${g.lastError ?? 'no error text'})`).join('; ')}.
        </div>
      ) : null}

      <section className="section" aria-labelledby="t-title">
        <h2 id="t-title">Targets</h2>
        {targets.error ? <ErrorNote>Could not check targets: {targets.error}</ErrorNote> : null}
        {targets.loading && !targets.data ? <Loading /> : null}
        {targets.data && targets.data.targets.length === 0 ? <Empty title="No targets">Add targets to the config file.</Empty> : null}
        {targets.data?.targets.length ? (
          <div className="table-wrap">
            <table className="table" aria-label="Targets">
              <thead>
                <tr>
                  <th scope="col">Target</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Health</th>
                  <th scope="col">Last check</th>
                  <th scope="col">Active</th>
                  <th scope="col">Revoke failing</th>
                </tr>
              </thead>
              <tbody>
                {targets.data.targets.map((t) => (
                  <tr key={t.name}>
                    <td>
                      <strong>{t.name}</strong> {t.critical ? <Badge kind="bad">critical</Badge> : null}
                    </td>
                    <td>{t.kind}</td>
                    <td>
                      {t.health.ok ? (
                        <Badge kind="ok">healthy</Badge>
                      ) : (
                        <>
                          <Badge kind="bad">unreachable</Badge> <span className="hint">{t.health.error}</span>
                        </>
                      )}
                    </td>
                    <td className="nowrap">
                      {when(t.health.checkedAt)} <span className="hint">({t.health.latencyMs} ms)</span>
                    </td>
                    <td className="num">{t.grants.active}</td>
                    <td className="num">{t.grants['revoke-failing'] ? <Badge kind="bad">{t.grants['revoke-failing']}</Badge> : '0'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <button type="button" className="btn btn-ghost btn-sm" onClick={targets.reload}>
          Check again
        </button>
      </section>

      <section className="section" aria-labelledby="g-title">
        <h2 id="g-title">Live grants</h2>
        {grants.error ? <ErrorNote>Could not load grants: {grants.error}</ErrorNote> : null}
        {grants.data && grants.data.grants.length === 0 ? <Empty title="No live access">Nobody holds access through Stint right now.</Empty> : null}
        {grants.data?.grants.length ? (
          <div className="table-wrap">
            <table className="table" aria-label="Live grants">
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Profile</th>
                  <th scope="col">Target</th>
                  <th scope="col">Account</th>
                  <th scope="col">Status</th>
                  <th scope="col">Remaining</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {grants.data.grants.map((g) => (
                  <GrantRow
                    key={g.id}
                    grant={g}
                    loadedAt={grants.data!.loadedAt}
                    onDone={(m) => {
                      toast(m, 'ok');
                      grants.reload();
                    }}
                  />
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>

      <section className="section" aria-labelledby="c-title">
        <h2 id="c-title">Profiles and policies</h2>
        {config.error ? <ErrorNote>Could not load the config: {config.error}</ErrorNote> : null}
        {config.data ? (
          <>
            <p className="hint">
              From <code>{config.data.file ?? 'an unnamed config'}</code>. Edit the file and send the broker SIGHUP to apply it.
            </p>
            <div className="two-col">
              <div className="table-wrap">
                <table className="table" aria-label="Profiles">
                  <thead>
                    <tr>
                      <th scope="col">Profile</th>
                      <th scope="col">Target</th>
                      <th scope="col">Mode</th>
                      <th scope="col">Grants</th>
                      <th scope="col">Max</th>
                    </tr>
                  </thead>
                  <tbody>
                    {config.data.profiles.map((p) => (
                      <tr key={p.name}>
                        <td>
                          <strong>{p.name}</strong>
                        </td>
                        <td>{p.target}</td>
                        <td>{p.mode}</td>
                        <td>{p.grants.join(', ')}</td>
                        <td>{p.maxDuration}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <div className="table-wrap">
                <table className="table" aria-label="Policies">
                  <thead>
                    <tr>
                      <th scope="col">Policy</th>
                      <th scope="col">Who</th>
                      <th scope="col">Profiles</th>
                      <th scope="col">Approval</th>
                    </tr>
                  </thead>
                  <tbody>
                    {config.data.policies.map((p) => (
                      <tr key={p.name}>
                        <td>
                          <strong>{p.name}</strong> {p.effect === 'deny' ? <Badge kind="bad">deny</Badge> : null}
                        </td>
                        <td>{[...p.subjects.users.map((u) => `user ${u}`), ...p.subjects.groups.map((g) => `group ${g}`)].join(', ')}</td>
                        <td>{p.profiles.join(', ')}</td>
                        <td>
                          {p.effect === 'deny' ? '—' : p.approval}
                          {p.requireReason ? ' · reason' : ''}
                          {p.requireTicket ? ' · ticket' : ''}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
          </>
        ) : null}
      </section>
    </>
  );
}

function GrantRow({ grant: g, loadedAt, onDone }: { grant: Grant; loadedAt: number; onDone: (msg: string) => void }) {
  const now = useTick(1000);
  const [error, setError] = useState<string>();
  const [confirm, setConfirm] = useState(false);
  const remaining = g.remainingMs === null ? null : g.remainingMs - (now - loadedAt);
  return (
    <tr data-grant={g.id}>
      <td>{g.user}</td>
      <td>{g.profile}</td>
      <td>{g.target}</td>
      <td>
        <code>{g.account}</code>
      </td>
      <td>
        <Status status={g.status} />
        {g.lastError ? <span className="hint"> {g.lastError}</span> : null}
      </td>
      <td className="num">{remaining !== null ? clock(remaining) : '—'}</td>
      <td className="nowrap">
        {error ? <span className="field-error">{error} </span> : null}
        {confirm ? (
          <>
            <button
              type="button"
              className="btn btn-danger btn-sm"
              onClick={() =>
                api.revoke(g.id).then(
                  () => onDone(`Revoked ${g.user}’s ${g.profile}.`),
                  (e: unknown) => setError(errorText(e)),
                )
              }
            >
              Revoke now
            </button>{' '}
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => setConfirm(false)}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" className="btn btn-danger-ghost btn-sm" onClick={() => setConfirm(true)} aria-label={`Revoke ${g.user}’s ${g.profile}`}>
            Revoke
          </button>
        )}
      </td>
    </tr>
  );
}
