import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateApiKey,
  generateRefreshToken,
  isApiKeyShaped,
  isRefreshTokenShaped,
  sha256Hex,
} from './secrets.js';

describe('refresh tokens', () => {
  it('when generated, then a token is zsr_ plus 43 base64url characters and differs each time', () => {
    const first = generateRefreshToken();
    expect(first).toMatch(/^zsr_[A-Za-z0-9_-]{43}$/);
    expect(generateRefreshToken()).not.toBe(first);
    expect(isRefreshTokenShaped(first)).toBe(true);
  });

  it('when a value is a JWT or an API key, then it is not refresh-token shaped', () => {
    expect(isRefreshTokenShaped('eyJhbGciOiJFZERTQSJ9.e30.sig')).toBe(false);
    expect(isRefreshTokenShaped(generateApiKey().key)).toBe(false);
  });
});

describe('API keys', () => {
  it('when generated, then the key is zs_ plus 256 bits, the prefix is its first 11 characters and only the hash is derived', () => {
    const generated = generateApiKey();
    expect(generated.key).toMatch(/^zs_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(generated.key.slice(3), 'base64url')).toHaveLength(32);
    expect(generated.prefix).toBe(generated.key.slice(0, 11));
    expect(generated.hash).toBe(createHash('sha256').update(generated.key).digest('hex'));
    expect(isApiKeyShaped(generated.key)).toBe(true);
  });

  it('when a value has the wrong marker or length, then it is not API-key shaped', () => {
    const { key } = generateApiKey();
    expect(isApiKeyShaped(`${key}x`)).toBe(false);
    expect(isApiKeyShaped(key.replace('zs_', 'zz_'))).toBe(false);
    expect(isApiKeyShaped(generateRefreshToken())).toBe(false);
  });

  it('when hashing, then sha256Hex gives 64 lowercase hex characters', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
