import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parsePublicKeyLine, type ParsedPublicKey } from './public-key.js';

// Real keys from OpenSSH's ssh-keygen, and its own fingerprints to compare with.
const dir = mkdtempSync(join(tmpdir(), 'stint-pubkey-'));
interface Generated {
  pub: string;
  priv: string;
  fingerprint: string;
}
function keygen(name: string, args: string[]): Generated {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-C', `${name}@laptop`, '-f', file, ...args], { stdio: 'ignore' });
  const fingerprint = execFileSync('ssh-keygen', ['-lf', `${file}.pub`])
    .toString()
    .split(' ')[1]!;
  return { pub: readFileSync(`${file}.pub`, 'utf8'), priv: readFileSync(file, 'utf8'), fingerprint };
}
const ok = (line: string): ParsedPublicKey => {
  const r = parsePublicKeyLine(line);
  if (r instanceof Error) throw r;
  return r;
};
const refused = (line: string, pattern: RegExp) => {
  const r = parsePublicKeyLine(line);
  assert.ok(r instanceof Error, `expected ${JSON.stringify(line.slice(0, 60))} to be refused`);
  assert.match(r.message, pattern);
};

describe('OpenSSH public key lines', () => {
  let keys: Record<'ed25519' | 'rsa' | 'rsa1024' | 'ecdsa256' | 'ecdsa384' | 'ecdsa521', Generated>;
  before(() => {
    keys = {
      ed25519: keygen('ed', ['-t', 'ed25519']),
      rsa: keygen('rsa', ['-t', 'rsa', '-b', '3072']),
      rsa1024: keygen('rsa1024', ['-t', 'rsa', '-b', '1024']),
      ecdsa256: keygen('ec256', ['-t', 'ecdsa', '-b', '256']),
      ecdsa384: keygen('ec384', ['-t', 'ecdsa', '-b', '384']),
      ecdsa521: keygen('ec521', ['-t', 'ecdsa', '-b', '521']),
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads ed25519, RSA and every ECDSA curve with the fingerprint ssh-keygen prints', () => {
    for (const [name, k] of Object.entries(keys)) {
      if (name === 'rsa1024') continue;
      const p = ok(k.pub);
      assert.equal(p.fingerprint, k.fingerprint, name);
      assert.equal(p.line, k.pub.trim().split(' ').slice(0, 2).join(' '));
      assert.match(p.comment ?? '', /@laptop$/);
    }
    assert.equal(ok(keys.rsa.pub).bits, 3072);
    assert.equal(ok(keys.ecdsa521.pub).bits, 521);
  });

  it('a comment may name a key type or an address at openssh.com: only a second key itself is refused', () => {
    const [type, b64] = keys.ed25519.pub.trim().split(' ');
    for (const comment of ['migrated from ssh-rsa', 'djm@openssh.com', 'ssh-ed25519 key of the build box', 'ssh-rsa not*base64']) {
      assert.equal(ok(`${type} ${b64} ${comment}`).comment, comment);
    }
  });

  it('keeps a comment with spaces, drops surrounding blanks and a BOM, and has none when absent', () => {
    const [type, b64] = keys.ed25519.pub.trim().split(' ');
    assert.equal(ok(`\uFEFF  ${type} ${b64}   Alice's work laptop  \n`).comment, "Alice's work laptop");
    assert.equal(ok(`${type} ${b64}`).comment, null);
    assert.equal(ok(`${type}\t${b64}\tx`).comment, 'x');
  });

  it('refuses what is not one usable public key, saying what it is', () => {
    const [type, b64] = keys.ed25519.pub.trim().split(' ') as [string, string];
    refused(keys.ed25519.priv, /private key.*\.pub/);
    refused(keys.rsa1024.pub, /1024 bits; at least 2048/);
    refused(`${keys.ed25519.pub.trim()}\n${keys.rsa.pub.trim()}`, /one key line/);
    refused(`command="/bin/sh",no-pty ${type} ${b64}`, /authorized_keys options/);
    refused(`from="10.0.0.1" ${type} ${b64}`, /authorized_keys options/);
    refused(`ssh-dss AAAAB3NzaC1kc3MAAACBAP`, /DSA/);
    refused(`sk-ssh-ed25519@openssh.com ${b64}`, /FIDO/);
    refused(`ssh-ed25519-cert-v01@openssh.com ${b64}`, /certificates/);
    refused(`ssh-foo ${b64}`, /unknown key type/);
    refused(type, /no key after it/);
    refused(`${type} not*base64`, /base64/);
    refused(`ssh-rsa ${b64}`, /does not hold a ssh-rsa key/);
    refused(`${type} ${Buffer.concat([Buffer.from(b64, 'base64'), Buffer.from([0, 0, 0, 0])]).toString('base64')}`, /extra bytes/);
    refused(`${type} ${Buffer.from(b64, 'base64').subarray(0, 40).toString('base64')}`, /not 32 bytes/);
    refused('', /empty/);
    // The same RSA key with a zero byte in front of its modulus: another fingerprint, so refused.
    const [rsaType, rsaB64] = keys.rsa.pub.trim().split(' ') as [string, string];
    const blob = Buffer.from(rsaB64, 'base64');
    const eLen = blob.readUInt32BE(11);
    const nAt = 15 + eLen;
    const n = blob.subarray(nAt + 4, nAt + 4 + blob.readUInt32BE(nAt));
    const padded = Buffer.concat([blob.subarray(0, nAt), Buffer.from([0, 0, 0, n.length + 1, 0]), n]);
    refused(`${rsaType} ${padded.toString('base64')}`, /minimal encoding/);
    refused(`toString ${b64}`, /unknown key type/);
    refused(`__proto__ ${b64}`, /unknown key type/);
    refused('-----BEGIN SSH2 PUBLIC KEY-----', /RFC 4716/);
    refused(`${type} ${b64} ${'x'.repeat(201)}`, /comment is longer/);
    refused(`${type} ${b64} evil\u202Etxt`, /control or invisible/);
    refused('x'.repeat(20_000), /longer than/);
    // Two keys on one line: the second is not a comment.
    refused(`${keys.ed25519.pub.trim().split(' ').slice(0, 2).join(' ')} ${keys.rsa.pub.trim()}`, /more than one key/);
    refused(`${type} ${b64} lone \ud800 surrogate`, /lone surrogate/);
    // An ECDSA point of the right length and prefix that is not on its curve.
    for (const k of [keys.ecdsa256, keys.ecdsa384, keys.ecdsa521]) {
      const [t, kb64] = k.pub.trim().split(' ') as [string, string];
      const bad = Buffer.from(kb64, 'base64');
      bad[bad.length - 1]! ^= 1;
      refused(`${t} ${bad.toString('base64')}`, /point is not on its curve/);
    }
  });

  it('never throws, whatever the input (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        const r = parsePublicKeyLine(s);
        assert.ok(r instanceof Error || typeof r.fingerprint === 'string');
      }),
      { numRuns: 500 },
    );
    // Valid base64 of random bytes after a valid type: refused, not crashed.
    fc.assert(
      fc.property(fc.constantFrom('ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256'), fc.uint8Array({ minLength: 1, maxLength: 200 }), (t, bytes) => {
        assert.ok(parsePublicKeyLine(`${t} ${Buffer.from(bytes).toString('base64')}`) instanceof Error);
      }),
      { numRuns: 300 },
    );
  });
});
