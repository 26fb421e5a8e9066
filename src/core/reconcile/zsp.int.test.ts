// Standing privileges and the zero-standing-privilege score end to end, on a
// real broker and PostgreSQL target: a login role given profile roles outside
// Stint (directly and through a group role) is reported with how it holds
// them; the score moves when a grant adds a just-in-time holder and again when
// the standing holding is removed; reconcile stores each score, /metrics
// exports it and /v1/reports/zsp gives it back with its trend.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomId } from '../ids.js';
import { runBinary } from '../../cli/testing/fake-api.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';

describe('standing privileges and the ZSP score (PostgreSQL)', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;
  const suffix = randomId(6).toLowerCase();
  const bob = `standing_${suffix}`;
  const group = `team_${suffix}`;

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
    url = await broker.app.listen('127.0.0.1', 0);
  });
  after(async () => {
    await broker?.close();
    await target?.superQuery(`DROP ROLE IF EXISTS "${bob}"`);
    await target?.superQuery(`DROP ROLE IF EXISTS "${group}"`);
    await target?.drop();
  });

  const pgScore = async () => {
    const r = await broker.call(broker.adminToken, 'POST', '/v1/reconcile', { target: 'pg' });
    assert.equal(r.status, 200, r.raw);
    return r.body.targets[0].zsp;
  };

  it('reports a principal holding profile roles outside Stint, with how; the score follows grants and removals', async () => {
    await target.superQuery(`CREATE ROLE "${bob}" LOGIN; CREATE ROLE "${group}" NOLOGIN`);
    await target.superQuery(`GRANT "${target.adminRole}" TO "${bob}"; GRANT "${target.readRole}" TO "${group}"; GRANT "${group}" TO "${bob}"`);

    const rep = await broker.call(broker.adminToken, 'GET', '/v1/reports/standing?target=pg');
    assert.equal(rep.status, 200, rep.raw);
    const pg = rep.body.targets[0];
    assert.equal(pg.checked, true);
    assert.deepEqual(
      pg.standing.filter((s: { principal: string }) => s.principal === bob).map((s: { grant: string; how: string; via: string[] }) => [s.grant, s.how, s.via]),
      [
        [target.adminRole, 'direct', []],
        [target.readRole, 'inherited', [group]],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    // PostgreSQL reports roles, group roles included: bob and the group both hold a profile role outside Stint.
    assert.deepEqual(pg.zsp, { score: 0, holders: 2, standingHolders: 2 });
    // The CLI says the same, in words and as JSON.
    const cli = (args: string[]) =>
      runBinary(args, { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', STINT_SERVER: url, STINT_TOKEN: broker.adminToken });
    const human = await cli(['report', 'standing', '--target', 'pg']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^pg \(postgres\): zero-standing-privilege score 0\.0% \(2 of 2 holders standing\)$/m);
    assert.match(human.stdout, new RegExp(`^  ${bob} +${target.readRole} +via ${group}$`, 'm'));
    const json = await cli(['report', 'standing', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout).targets[0].standing, pg.standing);
    assert.equal((await cli(['report', 'nothing'])).code, 2);
    // A dry run (the report) stores nothing.
    assert.deepEqual((await broker.call(broker.adminToken, 'GET', '/v1/reports/zsp')).body.latest, []);
    // Not for a plain user.
    assert.equal((await broker.call(await broker.token('alice'), 'GET', '/v1/reports/standing')).status, 403);

    // A just-in-time holder: alice's ephemeral account through a live grant.
    const made = await broker.call(await broker.token('alice'), 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' });
    assert.equal(made.status, 201, made.raw);
    assert.deepEqual(await pgScore(), { score: 1 / 3, holders: 3, standingHolders: 2 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^stint_zsp_score\{target="pg"\} 0\.333333/m);

    // The standing holding goes: every holder is just-in-time.
    await target.superQuery(`REVOKE "${target.adminRole}" FROM "${bob}"; REVOKE "${group}" FROM "${bob}"`);
    assert.deepEqual(await pgScore(), { score: 0.5, holders: 2, standingHolders: 1 });
    await target.superQuery(`REVOKE "${target.readRole}" FROM "${group}"`);
    assert.deepEqual(await pgScore(), { score: 1, holders: 1, standingHolders: 0 });
    const dash = await broker.call(broker.adminToken, 'GET', '/v1/reports/zsp?days=30');
    assert.equal(dash.status, 200, dash.raw);
    assert.deepEqual(
      dash.body.latest.map((s: { target: string; score: number }) => [s.target, s.score]),
      [['pg', 1]],
    );
    assert.deepEqual(dash.body.overall, { score: 1, holders: 1, standingHolders: 0 });
    assert.equal(dash.body.trend.at(-1).targets.pg.score, 1);
    assert.match(await (await fetch(`${url}/metrics`)).text(), /^stint_zsp_score\{target="pg"\} 1$/m);
  });
});
