// A throwaway private CA and a server certificate it signed, made by the real
// openssl, for TLS receivers in tests (a client trusts only the CA file).

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PrivateCa {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Writes DIR/ca.crt, DIR/server.crt (subjectAltName DNS:NAME and IP:127.0.0.1) and DIR/server.key. */
export function privateCa(dir: string, serverName: string): PrivateCa {
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Stint test CA', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
  run(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${serverName}`, '-keyout', f('server.key'), '-out', f('server.csr')]);
  writeFileSync(f('server.ext'), `subjectAltName=DNS:${serverName},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`);
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    f('server.ext'),
    '-out',
    f('server.crt'),
  ]);
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}
