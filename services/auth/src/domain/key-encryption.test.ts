import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret } from './key-encryption.js';

describe('private key encryption', () => {
  const key = randomBytes(32);
  const secret = Buffer.from('a private key in PKCS#8');

  it('when encrypted and decrypted with the same key and key id, then the secret comes back', () => {
    const encrypted = encryptSecret(secret, key, 'kid-1');
    expect(encrypted.startsWith('v1.')).toBe(true);
    expect(encrypted).not.toContain(secret.toString('base64url'));
    expect(decryptSecret(encrypted, key, 'kid-1').equals(secret)).toBe(true);
  });

  it('when encrypted twice, then the ciphertexts differ (fresh IV)', () => {
    expect(encryptSecret(secret, key, 'kid-1')).not.toBe(encryptSecret(secret, key, 'kid-1'));
  });

  it('when the key id, the encryption key or the ciphertext differ, then decryption throws', () => {
    const encrypted = encryptSecret(secret, key, 'kid-1');
    expect(() => decryptSecret(encrypted, key, 'kid-2')).toThrow();
    expect(() => decryptSecret(encrypted, randomBytes(32), 'kid-1')).toThrow();
    const parts = encrypted.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    parts[3] = body.toString('base64url');
    expect(() => decryptSecret(parts.join('.'), key, 'kid-1')).toThrow();
    expect(() => decryptSecret('v2.a.b.c', key, 'kid-1')).toThrow();
  });
});
