import { describe, expect, it } from 'vitest';
import {
  apiKeyExpiresAt,
  isApiKeyUsable,
  isValidCursor,
  newKeyId,
  shouldRecordApiKeyUse,
  verifyUntilOf,
} from './key-rules.js';

const now = new Date('2026-01-01T00:00:00.000Z');

describe('signing key rules', () => {
  it('when a key is retired, then it verifies for the access TTL plus 60 s of skew', () => {
    expect(verifyUntilOf(now, 900).toISOString()).toBe('2026-01-01T00:16:00.000Z');
  });

  it('when a key id is made, then it starts with the date and is unique', () => {
    const kid = newKeyId(now);
    expect(kid).toMatch(/^2026-01-01-[A-Za-z0-9_-]{12}$/);
    expect(newKeyId(now)).not.toBe(kid);
  });
});

describe('API key rules', () => {
  it('when expires_in_days is given, then the key expires that many days later; else never', () => {
    expect(apiKeyExpiresAt(now, 30)?.toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(apiKeyExpiresAt(now, undefined)).toBeNull();
  });

  it('when a key is revoked, expired or its owner inactive, then it is not usable', () => {
    const live = { revokedAt: null, expiresAt: null, userIsActive: true };
    expect(isApiKeyUsable(live, now)).toBe(true);
    expect(isApiKeyUsable({ ...live, revokedAt: now }, now)).toBe(false);
    expect(isApiKeyUsable({ ...live, expiresAt: now }, now)).toBe(false);
    expect(isApiKeyUsable({ ...live, expiresAt: new Date(now.getTime() + 1) }, now)).toBe(true);
    expect(isApiKeyUsable({ ...live, userIsActive: false }, now)).toBe(false);
  });

  it('when a key was used less than a minute ago, then its use is not recorded again', () => {
    expect(shouldRecordApiKeyUse(null, now)).toBe(true);
    expect(shouldRecordApiKeyUse(new Date(now.getTime() - 59_999), now)).toBe(false);
    expect(shouldRecordApiKeyUse(new Date(now.getTime() - 60_000), now)).toBe(true);
  });

  it('when a cursor is not a uuid, then it is rejected', () => {
    expect(isValidCursor('0190b1c2-0000-7000-8000-000000000000')).toBe(true);
    expect(isValidCursor("1' OR 1=1")).toBe(false);
  });
});
