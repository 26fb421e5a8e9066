import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkHba, cidrText, parseCidr, type HbaRule } from './hba-check.js';

let line = 0;
function rule(text: string): HbaRule {
  // "type db users [address [netmask]] method", as pg_hba_file_rules shows it.
  const p = text.trim().split(/\s+/);
  const type = p[0]!;
  const local = type === 'local';
  const address = local ? null : p[3]!;
  const method = p[p.length - 1]!;
  const netmask = !local && p.length === 6 ? p[4]! : null;
  return { line: ++line, type, database: p[1]!.split(','), users: p[2]!.split(','), address, netmask, method, error: null };
}
const rules = (...lines: string[]) => lines.map(rule);
const markers = ['stint_gateway', 'stint_managed'];
const gw = [parseCidr('10.0.0.5')!];
const verdict = (...lines: string[]) => checkHba(rules(...lines), markers, gw);

const closed = ['local all +stint_gateway reject', 'host all +stint_gateway 10.0.0.5/32 scram-sha-256', 'host all +stint_gateway all reject'];

describe('pg_hba.conf check for gateway accounts', () => {
  it('passes the documented rules in front of permissive ones', () => {
    const v = verdict(...closed, 'local all all scram-sha-256', 'host all all 0.0.0.0/0 scram-sha-256', 'host all all ::/0 scram-sha-256');
    assert.equal(v.status, 'pass', v.message);
  });

  it('passes when the reject rules are spelt per family and with netmasks', () => {
    const v = verdict(
      'local all +stint_managed reject',
      'hostssl all +stint_gateway 10.0.0.5 255.255.255.255 scram-sha-256',
      'host all +stint_gateway 0.0.0.0 0.0.0.0 reject',
      'host all +stint_gateway ::/0 reject',
      'host all all 0.0.0.0/0 scram-sha-256',
    );
    assert.equal(v.status, 'pass', v.message);
  });

  it('fails a target with no rule for the marker, and names the line', () => {
    const v = verdict('local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256');
    assert.equal(v.status, 'fail');
    assert.match(v.message, /line \d+ \(local all all scram-sha-256\) admits them over a Unix-socket connection/);
  });

  it('fails when the Unix socket, one family or one connection type is left open', () => {
    assert.equal(verdict(...closed.slice(1), 'local all all trust').status, 'fail');
    assert.equal(verdict(closed[0]!, closed[1]!, 'host all +stint_gateway 0.0.0.0/0 reject', 'host all all ::/0 scram-sha-256').status, 'fail');
    assert.equal(verdict(closed[0]!, closed[1]!, 'hostssl all +stint_gateway all reject', 'host all all 0.0.0.0/0 md5').status, 'fail');
  });

  it('fails a rule before the rejects that admits a role the account may belong to, or a wider network than the gateway', () => {
    assert.equal(verdict('host all +app_read 0.0.0.0/0 scram-sha-256', ...closed).status, 'fail');
    assert.equal(verdict('host all /^stint_ 10.0.0.0/8 scram-sha-256', ...closed).status, 'fail');
    assert.equal(verdict('host all +stint_gateway 10.0.0.0/24 scram-sha-256', ...closed).status, 'fail');
    // A rule for a named person is not a gateway account's way in.
    assert.equal(verdict('host all alice 0.0.0.0/0 scram-sha-256', ...closed).status, 'pass');
    // A reject for one database leaves the others open.
    assert.equal(verdict('local all +stint_gateway reject', closed[1]!, 'host orders +stint_gateway all reject', 'host all all 0.0.0.0/0 md5').status, 'fail');
  });

  it('covers an address range rejected in pieces', () => {
    const v = verdict(
      closed[0]!,
      'host all +stint_gateway 0.0.0.0/1 reject',
      'host all +stint_gateway 128.0.0.0/1 reject',
      'host all +stint_gateway ::/0 reject',
      'host all all all md5',
    );
    assert.equal(v.status, 'pass', v.message);
  });

  it('cannot verify rules by host name, samehost or samenet, nor a file with errors', () => {
    assert.equal(verdict(closed[0]!, 'host all all samenet md5').status, 'unknown');
    assert.equal(verdict(closed[0]!, 'host all all db.example.com md5', ...closed.slice(1)).status, 'unknown');
    const bad = rules(...closed);
    bad[1]!.error = 'invalid IP address';
    assert.equal(checkHba(bad, markers, gw).status, 'unknown');
  });

  it('reads CIDRs of both families', () => {
    assert.equal(cidrText(parseCidr('10.1.2.3/8')!), '10.0.0.0/8');
    assert.equal(cidrText(parseCidr('2001:db8::1/32')!), '2001:db8:0:0:0:0:0:0/32');
    assert.equal(cidrText(parseCidr('::ffff:10.0.0.1')!), '0:0:0:0:0:ffff:a00:1/128');
    for (const bad of ['10.0.0.1/33', 'nope', '10.0.0.1/8/1', '::1/129']) assert.equal(parseCidr(bad), null, bad);
  });
});
