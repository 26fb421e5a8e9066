// Sessions: what went through a Stint gateway. A list (mine; admins can show
// everyone's), and one session's detail: its facts, the statement log
// (postgres), its channels and terminal playback (ssh) with asciinema-player,
// bundled by vite (no CDN).

import { useEffect, useRef, useState } from 'react';
import type { Player } from 'asciinema-player';
import { api, formatBytes, formatDuration, recordingUrl, when, type GatewaySession, type SessionChannel, type SessionStatement } from '../api.ts';
import { Badge, Empty, ErrorNote, Link, Loading, PageHeader, errorText, useLoad, useTick } from '../ui.tsx';

const statusKind: Record<string, string> = { live: 'ok', ended: 'muted', interrupted: 'warn' };
const SessionStatus = ({ status }: { status: string }) => <Badge kind={statusKind[status] ?? 'muted'}>{status}</Badge>;

function duration(s: GatewaySession, now: number): string {
  const end = s.endedAt ? Date.parse(s.endedAt) : s.status === 'live' ? now : null;
  if (end === null) return '—';
  return formatDuration(Math.max(0, end - Date.parse(s.startedAt)));
}

/** Today: 9:44:44 AM; otherwise Nov 22, 9:44 AM (the full time is in the title). */
function shortWhen(iso: string, now: number): string {
  const d = new Date(iso);
  if (d.toDateString() === new Date(now).toDateString()) return d.toLocaleTimeString(undefined, { timeStyle: 'medium' });
  return d.toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    year: d.getFullYear() === new Date(now).getFullYear() ? undefined : 'numeric',
    hour: 'numeric',
    minute: '2-digit',
  });
}

/** Reload while something is live (sessions have no events of their own). */
function usePoll(active: boolean, reload: () => void, ms = 5000) {
  useEffect(() => {
    if (!active) return;
    const t = setInterval(reload, ms);
    return () => clearInterval(t);
  }, [active, reload, ms]);
}

export function SessionsPage({ admin }: { admin: boolean }) {
  const [all, setAll] = useState(false);
  const { data, error, loading, reload } = useLoad(() => api.sessions(all), [all]);
  const now = useTick();
  const sessions = data?.sessions ?? [];
  usePoll(
    sessions.some((s) => s.status === 'live'),
    reload,
  );
  const showAll = admin && all;

  return (
    <>
      <PageHeader title="Sessions">
        {showAll ? 'Every connection made through a Stint gateway, newest first.' : 'Your connections through a Stint gateway, newest first.'}
      </PageHeader>
      <div className="toolbar">
        {admin ? (
          <label className="check">
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} />
            Show everyone’s sessions
          </label>
        ) : (
          <span />
        )}
        <button type="button" className="btn btn-ghost btn-sm" onClick={reload} disabled={loading}>
          {loading && data ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      {error ? <ErrorNote>Could not load sessions: {error}</ErrorNote> : null}
      {loading && !data ? <Loading /> : null}
      {data && sessions.length === 0 ? (
        <Empty title={showAll ? 'No sessions yet' : 'You have no sessions yet'}>
          Sessions appear here when someone connects through a Stint gateway (for example <code>psql</code> to the PostgreSQL gateway with a Stint token as the
          password).
        </Empty>
      ) : null}
      {sessions.length > 0 ? (
        <div className="table-wrap">
          <table className="table table-stack" aria-label={showAll ? 'All sessions, newest first' : 'My sessions, newest first'}>
            <thead>
              <tr>
                <th scope="col">Session</th>
                {showAll ? <th scope="col">User</th> : null}
                <th scope="col">Gateway</th>
                <th scope="col">Profile / target</th>
                <th scope="col">Account / grant</th>
                <th scope="col">Started</th>
                <th scope="col">Ended</th>
                <th scope="col">Duration</th>
                <th scope="col">Bytes in / out</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.id}>
                  <td data-label="Session">
                    <Link to={`/sessions/${s.id}`}>
                      <span className="mono">{s.id}</span>
                    </Link>
                  </td>
                  {showAll ? <td data-label="User">{s.user}</td> : null}
                  <td data-label="Gateway">
                    {s.gateway}
                    {s.recording ? (
                      <>
                        {' '}
                        <Badge kind="info">recorded</Badge>
                      </>
                    ) : null}
                  </td>
                  <td data-label="Profile / target">
                    <strong className="nowrap">{s.profile}</strong>
                    <br />
                    <span className="muted">on {s.target}</span>
                  </td>
                  <td data-label="Account / grant">
                    <span className="mono">{s.account}</span>
                    <br />
                    <span className="mono muted" title={`grant ${s.grantId} (${s.grantKind})`}>
                      {s.grantId}
                    </span>
                  </td>
                  <td data-label="Started" className="nowrap">
                    <time dateTime={s.startedAt} title={when(s.startedAt)}>
                      {shortWhen(s.startedAt, now)}
                    </time>
                  </td>
                  <td data-label="Ended" className="nowrap">
                    {s.endedAt ? (
                      <time dateTime={s.endedAt} title={when(s.endedAt)}>
                        {shortWhen(s.endedAt, now)}
                      </time>
                    ) : s.status === 'live' ? (
                      'still open'
                    ) : (
                      '—'
                    )}
                  </td>
                  <td data-label="Duration" className="num">
                    {duration(s, now)}
                  </td>
                  <td data-label="Bytes in / out" className="num nowrap">
                    {s.bytesIn === null && s.bytesOut === null ? '—' : `${formatBytes(s.bytesIn)} / ${formatBytes(s.bytesOut)}`}
                  </td>
                  <td data-label="Status">
                    <SessionStatus status={s.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

export function SessionDetailPage({ id }: { id: string }) {
  const { data, error, loading, reload } = useLoad(() => api.sessionDetail(id), [id]);
  const now = useTick();
  usePoll(data?.session.status === 'live', reload);
  const s = data?.session;

  return (
    <>
      <p className="back">
        <Link to="/sessions">← All sessions</Link>
      </p>
      <PageHeader title={`Session ${id}`}>
        {s ? (
          <>
            {s.user} on <strong>{s.target}</strong> as <code>{s.account}</code> through the {s.gateway} gateway <SessionStatus status={s.status} />
          </>
        ) : (
          'A connection through a Stint gateway.'
        )}
      </PageHeader>
      {error ? <ErrorNote>Could not load this session: {error}</ErrorNote> : null}
      {loading && !data ? <Loading /> : null}
      {data && s ? (
        <>
          <section className="card" aria-labelledby="facts-title">
            <h2 id="facts-title">Details</h2>
            <dl className="facts facts-wide">
              <div>
                <dt>Gateway</dt>
                <dd>{s.gateway}</dd>
              </div>
              <div>
                <dt>User</dt>
                <dd>{s.user}</dd>
              </div>
              <div>
                <dt>Profile</dt>
                <dd>{s.profile}</dd>
              </div>
              <div>
                <dt>Target</dt>
                <dd>{s.target}</dd>
              </div>
              <div>
                <dt>Account</dt>
                <dd>
                  <code>{s.account}</code>
                </dd>
              </div>
              <div>
                <dt>Grant</dt>
                <dd>
                  <code>{s.grantId}</code> <span className="muted">({s.grantKind})</span>
                </dd>
              </div>
              <div>
                <dt>Client</dt>
                <dd>
                  <code>{s.client}</code>
                  {s.tls === null ? null : s.tls ? (
                    <>
                      {' '}
                      <Badge kind="ok">tls</Badge>
                    </>
                  ) : (
                    <>
                      {' '}
                      <Badge kind="warn">no tls</Badge>
                    </>
                  )}
                </dd>
              </div>
              <div>
                <dt>Started</dt>
                <dd>{when(s.startedAt)}</dd>
              </div>
              <div>
                <dt>Ended</dt>
                <dd>{s.endedAt ? when(s.endedAt) : s.status === 'live' ? 'still open' : 'unknown (the broker stopped during it)'}</dd>
              </div>
              <div>
                <dt>Duration</dt>
                <dd>{duration(s, now)}</dd>
              </div>
              <div>
                <dt>End reason</dt>
                <dd>{s.endReason ?? '—'}</dd>
              </div>
              <div>
                <dt>Bytes in / out</dt>
                <dd>
                  {formatBytes(s.bytesIn)} / {formatBytes(s.bytesOut)}
                </dd>
              </div>
            </dl>
          </section>
          {s.gateway === 'postgres' || data.statementsTotal > 0 ? (
            <Statements id={s.id} statements={data.statements} total={data.statementsTotal} live={s.status === 'live'} />
          ) : null}
          {data.channels.length > 0 ? <Channels channels={data.channels} /> : null}
          {s.recordings.length > 0 ? <Playback id={s.id} channels={s.recordings} /> : null}
          {s.gateway !== 'postgres' && data.channels.length === 0 && s.recordings.length === 0 ? (
            <section className="section">
              <Empty title="Nothing recorded">This session opened no channels and has no terminal recording.</Empty>
            </section>
          ) : null}
        </>
      ) : null}
    </>
  );
}

const clockTime = (iso: string) => {
  const d = new Date(iso);
  return `${d.toLocaleTimeString(undefined, { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

function Statements({ id, statements: firstPage, total, live }: { id: string; statements: SessionStatement[]; total: number; live: boolean }) {
  // Later pages, asked for one at a time; the first comes with the session (and is reloaded while it is live).
  const [more, setMore] = useState<SessionStatement[]>([]);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<string>();
  useEffect(() => setMore([]), [id]);
  const statements = more.length ? [...firstPage, ...more] : firstPage;
  const loadMore = async () => {
    setLoadingMore(true);
    setMoreError(undefined);
    try {
      const page = await api.sessionDetail(id, statements.length);
      setMore((m) => [...m, ...page.statements]);
    } catch (err) {
      setMoreError(errorText(err));
    } finally {
      setLoadingMore(false);
    }
  };
  const errors = statements.filter((x) => x.error).length;
  return (
    <section className="section" aria-labelledby="st-title">
      <h2 id="st-title">
        Statements{' '}
        <span className="muted">
          ({total}
          {errors ? `, ${errors} failed` : ''})
        </span>
      </h2>
      {statements.length === 0 ? (
        <Empty title="No statements">{live ? 'None yet; statements appear as the session runs them.' : 'The session ran no statements.'}</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table table-stack statements" aria-label="Statement log">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Time</th>
                  <th scope="col">SQL</th>
                  <th scope="col">Duration (ms)</th>
                  <th scope="col">Rows</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {statements.map((x, i) => (
                  <tr key={i} className={x.error ? 'is-error' : undefined}>
                    <td data-label="#" className="num">
                      {i + 1}
                    </td>
                    <td data-label="Time" className="nowrap num">
                      <time dateTime={x.at} title={when(x.at)}>
                        {clockTime(x.at)}
                      </time>
                    </td>
                    <td data-label="SQL" className="sql">
                      <pre>
                        <code>{x.sql}</code>
                      </pre>
                      {x.protocol !== 'simple' ? (
                        <span className="hint">
                          {x.protocol}
                          {x.params !== undefined ? ` · ${x.params} param${x.params === 1 ? '' : 's'}` : ''}
                        </span>
                      ) : null}
                    </td>
                    <td data-label="Duration (ms)" className="num">
                      {x.ms}
                    </td>
                    <td data-label="Rows" className="num">
                      {x.rows ?? '—'}
                    </td>
                    <td data-label="Error">{x.error ? <span className="sql-error">{x.error}</span> : <span className="muted">—</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {total > statements.length ? (
            <p className="hint">
              Showing the first {statements.length} of {total} statements.{' '}
              <button type="button" className="btn btn-sm" onClick={() => void loadMore()} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : `Show ${Math.min(total - statements.length, firstPage.length)} more`}
              </button>{' '}
              <code>
                stint sessions show {id} --offset {statements.length}
              </code>{' '}
              prints them in a terminal.
            </p>
          ) : null}
          {moreError ? <ErrorNote>Could not load more statements: {moreError}</ErrorNote> : null}
        </>
      )}
    </section>
  );
}

function Channels({ channels }: { channels: SessionChannel[] }) {
  return (
    <section className="section" aria-labelledby="ch-title">
      <h2 id="ch-title">Channels</h2>
      <div className="table-wrap">
        <table className="table table-stack" aria-label="Channels">
          <thead>
            <tr>
              <th scope="col">Channel</th>
              <th scope="col">Opened</th>
              <th scope="col">Kind</th>
              <th scope="col">Command</th>
              <th scope="col">Terminal</th>
              <th scope="col">Ended</th>
              <th scope="col">Exit</th>
            </tr>
          </thead>
          <tbody>
            {channels.map((c) => (
              <tr key={c.channel}>
                <td data-label="Channel" className="num">
                  {c.channel}
                </td>
                <td data-label="Opened" className="nowrap">
                  {when(c.at)}
                </td>
                <td data-label="Kind">{c.kind}</td>
                <td data-label="Command">{c.detail ? <code>{c.detail}</code> : <span className="muted">—</span>}</td>
                <td data-label="Terminal">{c.pty ? c.recording ? <Badge kind="info">recorded</Badge> : 'yes' : 'no'}</td>
                <td data-label="Ended" className="nowrap">
                  {when(c.endedAt)}
                </td>
                <td data-label="Exit">
                  {c.exit ? (
                    'code' in c.exit ? (
                      <Badge kind={c.exit.code === 0 ? 'ok' : 'bad'}>{`code ${c.exit.code}`}</Badge>
                    ) : (
                      <Badge kind="bad">{c.exit.signal}</Badge>
                    )
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Playback({ id, channels }: { id: string; channels: number[] }) {
  const [channel, setChannel] = useState(channels[0]!);
  const cast = useLoad(() => api.recording(id, channel), [id, channel]);
  const text = cast.data;
  return (
    <section className="section" aria-labelledby="pb-title">
      <div className="section-head">
        <h2 id="pb-title">Terminal playback</h2>
        <div className="actions">
          {channels.length > 1 ? (
            <span className="inline-field">
              <label htmlFor="pb-channel" className="inline-label">
                Channel
              </label>
              <select id="pb-channel" value={channel} onChange={(e) => setChannel(Number(e.target.value))}>
                {channels.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
              </select>
            </span>
          ) : null}
          <a className="btn btn-sm" href={recordingUrl(id, channel)} download={`${id}-${channel}.cast`}>
            Download .cast
          </a>
        </div>
      </div>
      {cast.error ? <ErrorNote>Could not load the recording: {cast.error}</ErrorNote> : null}
      {cast.loading && !text ? <Loading /> : null}
      {text !== undefined ? <TerminalPlayer key={`${id}-${channel}`} cast={text} label={`Terminal recording of channel ${channel}`} /> : null}
      <p className="hint">Focus the terminal (Tab), then Space plays and pauses, ← and → seek, f toggles full screen.</p>
    </section>
  );
}

function TerminalPlayer({ cast, label }: { cast: string; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string>();
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let player: Player | undefined;
    let gone = false;
    setError(undefined);
    import('../player.ts')
      .then(({ create }) => {
        if (gone) return;
        player = create({ data: cast }, el, { fit: 'width', preload: true, idleTimeLimit: 2, theme: 'asciinema' });
      })
      .catch((err: unknown) => !gone && setError(errorText(err)));
    return () => {
      gone = true;
      player?.dispose();
    };
  }, [cast]);
  return (
    <>
      {error ? <ErrorNote>The player could not start: {error}</ErrorNote> : null}
      <div className="player" role="region" aria-label={label} ref={box} data-testid="player" />
    </>
  );
}
