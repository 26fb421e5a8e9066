// broker.auditExport paths (the syslog CA file, the JSON-lines folder) are
// read relative to the config file's folder, like every other path in it,
// not relative to wherever the broker happens to be started.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfigText } from './load.js';

const config = (exportYaml: string) => `broker:
  auditExport:
${exportYaml}
targets: []
`;

describe('broker.auditExport paths', () => {
  test('relative paths resolve against the config file folder', () => {
    const c = parseConfigText(
      config('    syslog: { address: "127.0.0.1:6514", tls: { ca: certs/ca.crt, serverName: siem.example } }\n    file: { dir: ../audit-out }'),
      '/etc/stint/conf.d/stint.yaml',
    );
    assert.deepEqual(c.broker.auditExport, {
      syslog: { host: '127.0.0.1', port: 6514, tls: { ca: '/etc/stint/conf.d/certs/ca.crt', serverName: 'siem.example' } },
      file: { dir: '/etc/stint/audit-out', maxBytes: 64 * 1024 * 1024, keep: 10 },
    });
  });

  test('absolute paths are kept as written', () => {
    const c = parseConfigText(
      config('    syslog: { address: "[::1]:514", tls: { ca: /srv/pki/ca.pem } }\n    file: { dir: /var/lib/stint/audit }'),
      '/etc/stint/stint.yaml',
    );
    assert.equal(c.broker.auditExport?.syslog?.tls?.ca, '/srv/pki/ca.pem');
    assert.equal(c.broker.auditExport?.syslog?.host, '::1');
    assert.equal(c.broker.auditExport?.file?.dir, '/var/lib/stint/audit');
  });
});
