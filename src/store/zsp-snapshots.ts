// Zero-standing-privilege snapshots over Kysely (the Store port's ZspSnapshotStore).

import type { Kysely } from 'kysely';
import type { ZspSnapshot } from '../core/reconcile/zsp.js';
import type { Database, ZspSnapshotsTable } from './schema.js';

const toSnapshot = (r: ZspSnapshotsTable): ZspSnapshot => ({
  target: r.target,
  at: Number(r.at),
  score: Number(r.score),
  holders: Number(r.holders),
  standingHolders: Number(r.standing_holders),
});

export class ZspSnapshots {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(rows: ZspSnapshot[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insertInto('zsp_snapshots')
      .values(rows.map((s) => ({ target: s.target, at: s.at, score: s.score, holders: s.holders, standing_holders: s.standingHolders })))
      .onConflict((oc) => oc.columns(['target', 'at']).doNothing())
      .execute();
  }

  async list(q: { since: number; target?: string }): Promise<ZspSnapshot[]> {
    let query = this.db.selectFrom('zsp_snapshots').selectAll().where('at', '>=', q.since);
    if (q.target !== undefined) query = query.where('target', '=', q.target);
    return (await query.orderBy('at').orderBy('target').execute()).map(toSnapshot);
  }

  async latest(): Promise<ZspSnapshot[]> {
    const rows = await this.db
      .selectFrom('zsp_snapshots as s')
      .selectAll('s')
      .where(({ eb, selectFrom }) =>
        eb(
          's.at',
          '=',
          selectFrom('zsp_snapshots as n')
            .select(({ fn }) => fn.max('n.at').as('m'))
            .whereRef('n.target', '=', 's.target'),
        ),
      )
      .orderBy('s.target')
      .execute();
    return rows.map(toSnapshot);
  }

  async prune(before: number): Promise<number> {
    const r = await this.db.deleteFrom('zsp_snapshots').where('at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }
}
