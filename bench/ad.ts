// Ephemeral Active Directory accounts against a real Samba AD DC: the
// connector's createAccount and removeAccount against the raw LDAP operations
// they are made of, on one already bound LDAPS connection in the same run
// (create: add with unicodePwd, userAccountControl and accountExpires, then a
// group add; remove: delete), alternated one for one so load drifts hit both;
// and the latency from asking for removal to `kinit` failing.
//
//   node --import tsx bench/ad.ts                 # 60 of each, 20 kinit probes
//   node --import tsx bench/ad.ts --n 10 --kinit 5 # smoke run
//
// Uses STINT_TEST_AD_* when set (scripts/test-servers.ts), else provisions its own DC.

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Attribute, Change } from 'ldapts';
import { createAdTestEnv } from '../src/connectors/ad/testing/ad-test-env.js';
import { kinit, ldapsBind, newCcache } from '../src/connectors/ad/testing/ad-clients.js';
import { adChildDN, samFor, toFileTime, unicodePwd } from '../src/connectors/ad/ad-values.js';
import { fmt, progress, ratio, stats, table } from './lib.js';

const { values: args } = parseArgs({ options: { n: { type: 'string', default: '60' }, kinit: { type: 'string', default: '20' } } });
const N = Number(args.n);
const K = Number(args.kinit);
const limit = setTimeout(() => {
  process.stderr.write('time limit (15 min) reached\n');
  process.exit(2);
}, 15 * 60_000);
limit.unref();

const env = await createAdTestEnv();
const conn = env.newConnector();
const raw = await ldapsBind(env.server, env.server.adminUser, env.server.adminPassword);
const group = env.server.shareGroup;
const inAnHour = () => new Date(Date.now() + 3600_000);
const secret = () => `Bb2-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

try {
  progress(`warming up (DC ${env.server.url})`);
  await conn.checkHealth();
  const times = {
    stintCreate: [] as number[],
    rawCreate: [] as number[],
    stintRemove: [] as number[],
    rawRemove: [] as number[],
    rawSeqRemove: [] as number[],
  };
  let wallRawSeqRemove = 0;
  let wallStintCreate = 0;
  let wallRawCreate = 0;
  let wallStintRemove = 0;
  let wallRawRemove = 0;
  const stintNames: string[] = [];
  const rawNames: string[] = [];
  const seqNames: string[] = [];
  for (let i = 0; i < N; i++) {
    const s = `stint_bench_${env.suffix}_s${i}`;
    const r = `stint_bench_${env.suffix}_r${i}`;
    let t = performance.now();
    await conn.createAccount({ account: s, secret: secret(), grants: [group], expiresAt: inAnHour() });
    let d = performance.now() - t;
    times.stintCreate.push(d);
    wallStintCreate += d;
    stintNames.push(s);

    const dn = adChildDN('CN', r, env.ephemeralOU);
    t = performance.now();
    await raw.add(dn, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      cn: r,
      sAMAccountName: samFor(r),
      userPrincipalName: `${r}@${env.server.realm}`,
      description: 'stint-managed',
      unicodePwd: unicodePwd(secret()) as unknown as string,
      userAccountControl: '512',
      accountExpires: toFileTime(inAnHour()),
    });
    await raw.modify(group, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dn] }) }));
    d = performance.now() - t;
    times.rawCreate.push(d);
    wallRawCreate += d;
    rawNames.push(dn);
    const q = adChildDN('CN', `stint_bench_${env.suffix}_q${i}`, env.ephemeralOU);
    await raw.add(q, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      cn: `stint_bench_${env.suffix}_q${i}`,
      sAMAccountName: samFor(`stint_bench_${env.suffix}_q${i}`),
      unicodePwd: unicodePwd(secret()) as unknown as string,
      userAccountControl: '512',
    });
    await raw.modify(group, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [q] }) }));
    seqNames.push(q);
    if ((i + 1) % 10 === 0) progress(`created ${i + 1}/${N} of each`);
  }
  for (let i = 0; i < N; i++) {
    let t = performance.now();
    await conn.removeAccount({ account: stintNames[i]! });
    let d = performance.now() - t;
    times.stintRemove.push(d);
    wallStintRemove += d;
    t = performance.now();
    await raw.del(rawNames[i]!);
    d = performance.now() - t;
    times.rawRemove.push(d);
    wallRawRemove += d;
    // The same steps removeAccount takes, raw: disable, leave the group, delete.
    t = performance.now();
    await raw.modify(seqNames[i]!, new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: ['514'] }) }));
    await raw.modify(group, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [seqNames[i]!] }) }));
    await raw.del(seqNames[i]!);
    d = performance.now() - t;
    times.rawSeqRemove.push(d);
    wallRawSeqRemove += d;
  }
  progress('removal to "kinit fails"');
  const toKinitFails: number[] = [];
  for (let i = 0; i < K; i++) {
    const account = `stint_bench_${env.suffix}_k${i}`;
    const pw = secret();
    await conn.createAccount({ account, secret: pw, grants: [group], expiresAt: inAnHour() });
    const cc = await newCcache(env.server);
    await kinit(env.server, cc, `${account}@${env.server.realm}`, pw);
    const t = performance.now();
    await conn.removeAccount({ account });
    for (;;) {
      const ok = await kinit(env.server, cc, `${account}@${env.server.realm}`, pw).then(
        () => true,
        () => false,
      );
      if (!ok) break;
    }
    toKinitFails.push(performance.now() - t);
    await cc.destroy();
  }

  const row = (label: string, xs: number[]) => {
    const s = stats(xs);
    return [label, fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.max)];
  };
  process.stdout.write(
    `\nEphemeral AD accounts, ${N} of each, one at a time (ms)\n${table([
      ['operation', 'p50', 'p90', 'p99', 'max'],
      row('createAccount (Stint)', times.stintCreate),
      row('raw add+unicodePwd + group add', times.rawCreate),
      row('removeAccount (Stint)', times.stintRemove),
      row('raw delete', times.rawRemove),
      row('raw disable + group delete + delete', times.rawSeqRemove),
      row('removal → kinit fails', toKinitFails),
    ])}\n`,
  );
  const rate = (wall: number) => (N / wall) * 1000;
  process.stdout.write(
    `\ncreate rate: Stint ${fmt(rate(wallStintCreate))}/s vs raw ${fmt(rate(wallRawCreate))}/s = ${ratio(rate(wallStintCreate), rate(wallRawCreate))}\n` +
      `remove rate: Stint ${fmt(rate(wallStintRemove))}/s vs raw ${fmt(rate(wallRawRemove))}/s = ${ratio(rate(wallStintRemove), rate(wallRawRemove))}; vs raw disable+ungroup+delete ${fmt(rate(wallRawSeqRemove))}/s = ${ratio(rate(wallStintRemove), rate(wallRawSeqRemove))}\n`,
  );
} finally {
  await raw.unbind().catch(() => {});
  await env.teardown();
}
process.exit(0);
