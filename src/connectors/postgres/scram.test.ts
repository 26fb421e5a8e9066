import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { saslPrep, scramKeys, scramSha256Verifier } from './scram.js';

describe('SCRAM-SHA-256 verifier', () => {
  // RFC 7677 §3 example exchange: if our keys reproduce its ClientProof and
  // ServerSignature, StoredKey/ServerKey are right.
  it('reproduces the RFC 7677 test vector', async () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const keys = await scramKeys('pencil', salt, 4096);
    const authMessage = [
      'n=user,r=rOprNGfwEbeRWgbNEkqO',
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    ].join(',');
    const clientSignature = createHmac('sha256', keys.storedKey).update(authMessage).digest();
    const proof = Buffer.from(keys.clientKey.map((b, i) => b ^ clientSignature[i]!));
    assert.equal(proof.toString('base64'), 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    const serverSignature = createHmac('sha256', keys.serverKey).update(authMessage).digest();
    assert.equal(serverSignature.toString('base64'), '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it('formats the verifier as PostgreSQL stores it, with a fresh salt each time', async () => {
    const a = await scramSha256Verifier('s3cret');
    const b = await scramSha256Verifier('s3cret');
    assert.match(a, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(a, b);
    assert.ok(!a.includes('s3cret'));
  });

  it('SASLprep leaves ASCII alone and maps non-ASCII spaces and compatibility forms', () => {
    assert.equal(saslPrep('a b~!'), 'a b~!');
    assert.equal(saslPrep('a\u00a0b'), 'a b');
    assert.equal(saslPrep('\ufb01x'), 'fix');
    assert.equal(saslPrep('a\u00adb'), 'ab');
    // Prohibited output: the server falls back to the raw bytes, so do we.
    assert.equal(saslPrep('é\u0007'), 'é\u0007');
  });
});
