import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createVault, VaultError } from './vault.js';

const key = Buffer.alloc(32, 7);
const context = 'target:pg-main';

describe('vault', () => {
  test('round trip, including empty and non-ASCII text', () => {
    const vault = createVault(key);
    for (const secret of ['', 'hunter2', 'pässwörd 🔑', 'x'.repeat(100_000)]) {
      assert.equal(vault.unseal(vault.seal(secret, context), context), secret);
    }
  });

  test('round trip for any text and context (property)', () => {
    const vault = createVault(randomBytes(32));
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.string(), (secret, ctx) => vault.unseal(vault.seal(secret, ctx), ctx) === secret));
  });

  test('sealed format is v1.<base64url>.<base64url> and never contains the plaintext', () => {
    const sealed = createVault(key).seal('hunter2', context);
    assert.match(sealed, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.ok(!sealed.includes('hunter2'));
    assert.ok(!sealed.includes(Buffer.from('hunter2').toString('base64url')));
  });

  test('sealing twice gives different output (fresh data key and IVs)', () => {
    const vault = createVault(key);
    const a = vault.seal('hunter2', context);
    const b = vault.seal('hunter2', context);
    assert.notEqual(a, b);
    assert.notEqual(a.split('.')[1], b.split('.')[1]);
  });

  test('changing any character of the sealed text makes it fail', () => {
    const vault = createVault(key);
    const sealed = vault.seal('hunter2', context);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    for (let i = 0; i < sealed.length; i++) {
      // Two replacements per position, so trailing-bit characters get a same-bytes candidate too.
      for (const shift of [1, 17]) {
        const replacement = alphabet[(alphabet.indexOf(sealed[i]!) + shift) % alphabet.length]!;
        const tampered = sealed.slice(0, i) + replacement + sealed.slice(i + 1);
        assert.throws(() => vault.unseal(tampered, context), VaultError, `position ${i} → ${replacement}`);
      }
    }
  });

  test('flipping any bit of either decoded part makes it fail', () => {
    const vault = createVault(key);
    const [version, wrapped, body] = vault.seal('hunter2', context).split('.') as [string, string, string];
    for (const part of [1, 2] as const) {
      const bytes = Buffer.from(part === 1 ? wrapped : body, 'base64url');
      for (let i = 0; i < bytes.length; i++) {
        const copy = Buffer.from(bytes);
        copy[i]! ^= 1 << (i % 8);
        const encoded = copy.toString('base64url');
        const tampered = part === 1 ? `${version}.${encoded}.${body}` : `${version}.${wrapped}.${encoded}`;
        assert.throws(() => vault.unseal(tampered, context), /wrong master key, wrong context, or tampered/);
      }
    }
  });

  test('truncated, extended, swapped or foreign input fails', () => {
    const vault = createVault(key);
    const sealed = vault.seal('hunter2', context);
    const other = vault.seal('other', context);
    const [v, w, b] = sealed.split('.') as [string, string, string];
    const [, w2, b2] = other.split('.') as [string, string, string];
    for (const bad of [
      '',
      'hunter2',
      sealed.slice(0, -1),
      `${sealed}A`,
      `${sealed}.x`,
      `v2.${w}.${b}`,
      `${v}.${b}.${w}`,
      `${v}.${w}.${b2}`,
      `${v}.${w2}.${b}`,
      `${v}.${w}=.${b}`,
      `${v}.${w}.${b}==`,
      ` ${sealed}`,
    ]) {
      assert.throws(() => vault.unseal(bad, context), VaultError, JSON.stringify(bad).slice(0, 60));
    }
  });

  test('a value sealed for one context does not open under another', () => {
    const vault = createVault(key);
    const sealed = vault.seal('hunter2', 'target:pg-main');
    assert.throws(() => vault.unseal(sealed, 'target:pg-other'), /wrong master key, wrong context, or tampered/);
    assert.throws(() => vault.unseal(sealed, 'target:pg-main '), VaultError);
    assert.throws(() => vault.unseal(sealed, ''), VaultError);
  });

  test('a different master key cannot open it', () => {
    const sealed = createVault(key).seal('hunter2', context);
    const other = Buffer.from(key);
    other[31]! ^= 1;
    assert.throws(() => createVault(other).unseal(sealed, context), /wrong master key, wrong context, or tampered/);
  });

  test('the vault keeps its own copy of the key', () => {
    const mutable = Buffer.from(key);
    const vault = createVault(mutable);
    const sealed = vault.seal('hunter2', context);
    mutable.fill(0);
    assert.equal(vault.unseal(sealed, context), 'hunter2');
  });

  test('keyId is stable, differs per key, and is not the key', () => {
    const a = createVault(key).keyId;
    assert.equal(createVault(Buffer.from(key)).keyId, a);
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.notEqual(createVault(randomBytes(32)).keyId, a);
    for (const encoding of ['hex', 'base64', 'base64url'] as const) {
      assert.ok(!key.toString(encoding).includes(a));
      assert.ok(!key.toString(encoding).startsWith(a.slice(0, 8)));
    }
  });

  test('refuses a master key that is not 32 bytes', () => {
    for (const bad of [Buffer.alloc(0), Buffer.alloc(16), Buffer.alloc(31), Buffer.alloc(33)]) {
      assert.throws(() => createVault(bad), { message: 'the master key must be exactly 32 bytes' });
    }
  });
});
