// SIEM export over TLS to a real rsyslog (Debian, GnuTLS driver) whose
// certificate a private CA signed: every event arrives, in order, with the
// CA file and the JSON-lines folder named relative to the config file; a
// client trusting another CA, or expecting another name, delivers nothing.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { privateCa, type PrivateCa } from '../testing/private-ca.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { rsyslogd, startRsyslog, type RsyslogServer } from '../testing/servers/rsyslog.js';
import { createSyslogSink } from './syslog-sink.js';

const seqOf = (line: string) => Number(/seq="(\d+)"/.exec(line)![1]);

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('SIEM export over TLS (real rsyslog, private CA)', { skip: existsSync(rsyslogd) ? false : 'needs Debian rsyslog' }, () => {
  let target: TestTarget;
  let rsyslog: RsyslogServer;
  let dataDir: string;
  let ca: PrivateCa;
  let otherCa: PrivateCa;
  let broker: TestBroker | null = null;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stint-siem-tls-'));
    await mkdir(join(dataDir, 'certs'));
    await mkdir(join(dataDir, 'other'));
    ca = privateCa(join(dataDir, 'certs'), 'siem.test');
    otherCa = privateCa(join(dataDir, 'other'), 'siem.test');
    target = await createTestTarget();
    rsyslog = await startRsyslog({ tls: ca });
  });
  after(async () => {
    await broker?.close();
    await rsyslog?.destroy();
    await target?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('delivers every event over TLS with paths relative to the config file; another CA or name gets nothing through', async () => {
    broker = await startTestBroker({
      target,
      dataDir,
      editConfig: (t) =>
        t.replace(
          'broker:\n',
          `broker:\n  auditExport:\n    syslog: { address: "127.0.0.1:${rsyslog.port}", tls: { ca: certs/ca.crt, serverName: siem.test } }\n    file: { dir: export }\n`,
        ),
    });
    // The broker runs elsewhere than its config file's folder: the paths still point into that folder.
    assert.notEqual(process.cwd(), dataDir);
    const settings = (await loadConfigFile(broker.configPath)).broker.auditExport!;
    assert.equal(settings.syslog?.tls?.ca, ca.caFile);
    assert.equal(settings.file?.dir, join(dataDir, 'export'));

    const alice = await broker.token('alice');
    const grants: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m', reason: `siem tls ${i}` });
      assert.equal(r.status, 201, r.raw);
      grants.push(r.body.grant.id);
      await broker.call(alice, 'POST', `/v1/grants/${r.body.grant.id}/revoke`);
    }
    const store = broker.app.store;
    await waitFor('the revocations', async () => (await Promise.all(grants.map((id) => store.getGrant(id)))).every((g) => g?.status === 'revoked'));
    const head = (await store.auditHead())!.seq;
    await waitFor('rsyslog to have every event over TLS', async () => new Set((await rsyslog.received()).map(seqOf)).size >= head);
    await broker.app.auditExport!.drained();
    const upTo = Array.from({ length: head }, (_, i) => i + 1);
    const seqs = [...new Set((await rsyslog.received()).map(seqOf))];
    assert.deepEqual(seqs.slice(0, head), upTo);
    const dir = join(dataDir, 'export');
    const fileSeqs = (await Promise.all((await readdir(dir)).sort().map((f) => readFile(join(dir, f), 'utf8'))))
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).seq as number);
    assert.deepEqual([...new Set(fileSeqs)].slice(0, head), upTo);
    const [event] = await store.listAudit({ limit: 1 });
    // Nothing else sends from here on.
    await broker.close();
    broker = null;

    // The receiver's certificate must chain to the configured CA and carry the configured name.
    const before = (await rsyslog.received()).length;
    const send = (caFile: string, servername: string) =>
      createSyslogSink({ host: '127.0.0.1', port: rsyslog.port, tls: { ca: caFile, servername }, timeoutMs: 30_000 }).send([event!]);
    await assert.rejects(send(otherCa.caFile, 'siem.test'), (err: NodeJS.ErrnoException) => {
      assert.match(String(err.code), /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
      return true;
    });
    await assert.rejects(send(ca.caFile, 'other.test'), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      return true;
    });
    // Sent once more with the right CA and name, it arrives: the receiver was up all along.
    await send(ca.caFile, 'siem.test');
    await waitFor('the resend', async () => (await rsyslog.received()).length > before);
    assert.equal((await rsyslog.received()).length, before + 1);
  });
});
