// Zero standing privileges: each target's newest score as a bar, and the
// pooled daily trend of the last 30 days, from GET /v1/reports/zsp (the
// scores reconcile stored). Admins and auditors. Every string is rendered
// as text (React escapes it; api.ts made invisible characters visible).

import { api } from '../api.ts';
import { Empty, ErrorNote, Loading, PageHeader, useLoad } from '../ui.tsx';

const pct = (score: number | null) => (score === null ? 'not measured' : `${Math.round(score * 1000) / 10}%`);

export function ZspPage() {
  const dash = useLoad(() => api.zsp(30), []);
  const d = dash.data;
  const trend = d?.trend ?? [];
  const w = 600;
  const h = 120;
  const step = trend.length > 1 ? w / (trend.length - 1) : 0;
  const points = trend.map((t, i) => `${Math.round(i * step)},${Math.round(h - (t.overall.score ?? 0) * h)}`).join(' ');
  return (
    <>
      <PageHeader title="Zero standing privileges">
        The share of holders of profile permissions that hold them only through live grants, as reconcile measured it.
      </PageHeader>
      {dash.error ? <ErrorNote>Could not load the scores: {dash.error}</ErrorNote> : null}
      {dash.loading && !d ? <Loading /> : null}
      {d && d.latest.length === 0 ? <Empty title="No scores yet">Scores appear after the next reconcile run.</Empty> : null}
      {d && d.latest.length > 0 ? (
        <>
          <section className="section" aria-labelledby="zsp-now">
            <h2 id="zsp-now">
              Now: <span data-testid="zsp-overall">{pct(d.overall.score)}</span> overall
            </h2>
            <ul className="zsp-bars" aria-label="Score per target">
              {d.latest.map((s) => (
                <li key={s.target} className="zsp-bar" data-target={s.target}>
                  <span className="zsp-name">{s.target}</span>
                  <span className="zsp-track" aria-hidden="true">
                    <span className="zsp-fill" style={{ width: `${Math.round((s.score ?? 0) * 100)}%` }} />
                  </span>
                  <span className="zsp-value">
                    {pct(s.score)} · {s.standingHolders} of {s.holders} holders standing
                  </span>
                </li>
              ))}
            </ul>
          </section>
          <section className="section" aria-labelledby="zsp-trend">
            <h2 id="zsp-trend">Last 30 days</h2>
            <svg className="zsp-trend" viewBox={`-4 -4 ${w + 8} ${h + 8}`} role="img" aria-label={`Overall score per day, ${trend.length} days`}>
              <line x1="0" y1={h} x2={w} y2={h} className="zsp-axis" />
              {trend.length > 1 ? <polyline points={points} className="zsp-line" fill="none" /> : null}
              {trend.map((t, i) => (
                <circle key={t.day} cx={Math.round(i * step)} cy={Math.round(h - (t.overall.score ?? 0) * h)} r="3" className="zsp-dot">
                  <title>{`${t.day}: ${pct(t.overall.score)}`}</title>
                </circle>
              ))}
            </svg>
          </section>
        </>
      ) : null}
    </>
  );
}
