import { randomBytes } from 'node:crypto';

/** Clock difference we tolerate between this service, the gateway and other verifiers. */
export const clockSkewSeconds = 60;

/** Key ids carry the creation date so an operator can tell keys apart; the rest is random. */
export function newKeyId(now: Date): string {
  return `${now.toISOString().slice(0, 10)}-${randomBytes(9).toString('base64url')}`;
}

/**
 * A retired signing key must keep verifying until the last token it signed has expired. A
 * replica may keep signing with it for a few seconds after the rotation (until it re-reads the
 * active key), which the skew allowance covers.
 */
export function verifyUntilOf(retiredAt: Date, accessTokenTtlSeconds: number): Date {
  return new Date(retiredAt.getTime() + (accessTokenTtlSeconds + clockSkewSeconds) * 1000);
}

/** A user may hold this many unrevoked, unexpired API keys; more is CONFLICT. */
export const liveApiKeysMax = 50;

/** `last_used_at` is written at most this often per key, so busy keys do not write on every call. */
export const apiKeyUseRecordIntervalMs = 60_000;

export function apiKeyExpiresAt(now: Date, expiresInDays: number | undefined): Date | null {
  return expiresInDays === undefined ? null : new Date(now.getTime() + expiresInDays * 86_400_000);
}

export function shouldRecordApiKeyUse(lastUsedAt: Date | null, now: Date): boolean {
  return lastUsedAt === null || now.getTime() - lastUsedAt.getTime() >= apiKeyUseRecordIntervalMs;
}

export interface ApiKeyState {
  revokedAt: Date | null;
  expiresAt: Date | null;
  userIsActive: boolean;
}

export function isApiKeyUsable(state: ApiKeyState, now: Date): boolean {
  if (state.revokedAt !== null || !state.userIsActive) return false;
  return state.expiresAt === null || state.expiresAt.getTime() > now.getTime();
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** List cursors are the last id of the previous page (UUID v7 ids sort by creation time). */
export function isValidCursor(cursor: string): boolean {
  return uuidPattern.test(cursor);
}
