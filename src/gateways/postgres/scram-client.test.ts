import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ScramClient, ScramError, md5PasswordResponse } from './scram-client.js';

// RFC 7677 §3 test vector.
const nonce = 'rOprNGfwEbeRWgbNEkqO';
const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const clientFinal = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const serverFinal = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

describe('SCRAM-SHA-256 client', () => {
  it('reproduces the RFC 7677 exchange', async () => {
    const c = new ScramClient('pencil', nonce, 'user');
    assert.equal(c.first(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    assert.equal(await c.final(serverFirst), clientFinal);
    c.verify(serverFinal);
  });

  it("sends an empty user name to PostgreSQL (it uses the startup packet's)", () => {
    assert.match(new ScramClient('x').first(), /^n,,n=,r=[A-Za-z0-9+/]+=*$/);
  });

  it('refuses a server that cannot prove it knows the verifier', async () => {
    const c = new ScramClient('pencil', nonce, 'user');
    await c.final(serverFirst);
    assert.throws(() => c.verify('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='), ScramError);
    assert.throws(() => c.verify('e=invalid-proof'), /invalid-proof/);
  });

  it('refuses a server nonce that does not extend ours, and absurd iteration counts', async () => {
    await assert.rejects(new ScramClient('p', nonce).final('r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'), /nonce/);
    await assert.rejects(new ScramClient('p', nonce).final(`r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`), /nonce/);
    await assert.rejects(new ScramClient('p', nonce).final(`r=${nonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999`), /iteration/);
    await assert.rejects(new ScramClient('p', nonce).final(`r=${nonce}x,i=4096`), /salt/);
  });

  it('verify before final is an error', () => {
    assert.throws(() => new ScramClient('p').verify(serverFinal), /before client-final/);
  });
});

describe('md5 password response', () => {
  it('is md5(<stored md5 of password+user> + salt), as PostgreSQL checks it', () => {
    // pg_authid stores md5('postgres'+'postgres') as md53175bce1d3201d16594cebf9d7eb3f9d (a well-known value).
    const salt = Buffer.from([1, 2, 3, 4]);
    const expected = `md5${createHash('md5')
      .update(Buffer.concat([Buffer.from('3175bce1d3201d16594cebf9d7eb3f9d'), salt]))
      .digest('hex')}`;
    assert.equal(md5PasswordResponse('postgres', 'postgres', salt), expected);
  });
});
