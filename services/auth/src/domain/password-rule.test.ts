import { AppError } from '@zerostate/errors';
import { describe, expect, it } from 'vitest';
import { bcryptCostOf, checkPasswordRule, needsRehash, normalizeEmail } from './password-rule.js';

function codeOf(work: () => void): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    return error instanceof AppError ? error.code : 'not an AppError';
  }
}

describe('password rule', () => {
  it('when a password has 12 characters, then it is accepted', () => {
    expect(codeOf(() => checkPasswordRule('abcdefghijkl'))).toBeUndefined();
  });

  it('when a password has 11 characters, then it is WEAK_PASSWORD', () => {
    expect(codeOf(() => checkPasswordRule('abcdefghijk'))).toBe('WEAK_PASSWORD');
  });

  it('when characters outside the BMP are used, then each counts once', () => {
    expect(codeOf(() => checkPasswordRule('😀'.repeat(11)))).toBe('WEAK_PASSWORD');
    expect(codeOf(() => checkPasswordRule('😀'.repeat(12)))).toBeUndefined();
  });

  it('when a password exceeds 72 bytes of UTF-8, then it is WEAK_PASSWORD although it has few characters', () => {
    expect(codeOf(() => checkPasswordRule('a'.repeat(72)))).toBeUndefined();
    expect(codeOf(() => checkPasswordRule('a'.repeat(73)))).toBe('WEAK_PASSWORD');
    expect(codeOf(() => checkPasswordRule('é'.repeat(37)))).toBe('WEAK_PASSWORD');
  });
});

describe('email normalisation', () => {
  it('when an email has spaces and capitals, then it is trimmed and lower-cased', () => {
    expect(normalizeEmail('  Alice@Example.COM ')).toBe('alice@example.com');
  });
});

describe('bcrypt cost', () => {
  it('when a hash was made at cost 4, then its cost reads 4 and it needs a rehash at cost 12', () => {
    const hash = '$2b$04$xt5d8EqUzD6YuZcm3q5.wOuWZYqfuCeCs37bGPHub1tFswsPuzhCC';
    expect(bcryptCostOf(hash)).toBe(4);
    expect(needsRehash(hash, 12)).toBe(true);
    expect(needsRehash(hash, 4)).toBe(false);
  });

  it('when a value is not a bcrypt hash, then it needs a rehash', () => {
    expect(bcryptCostOf('plain')).toBeUndefined();
    expect(needsRehash('plain', 4)).toBe(true);
  });
});
