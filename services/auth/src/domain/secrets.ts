import { createHash, randomBytes } from 'node:crypto';

/** Refresh tokens are opaque: a marker plus 256 random bits, so they can never pass for a JWT. */
export const refreshTokenMarker = 'zsr_';
/** API keys: a marker plus 256 random bits (SPEC §4.1). */
export const apiKeyMarker = 'zs_';
/** Characters of an API key shown for identification: the marker and 8 random characters. */
export const apiKeyDisplayLength = apiKeyMarker.length + 8;

const randomPart = /^[A-Za-z0-9_-]{43}$/;

function randomToken(marker: string): string {
  return marker + randomBytes(32).toString('base64url');
}

export function generateRefreshToken(): string {
  return randomToken(refreshTokenMarker);
}

export interface GeneratedApiKey {
  /** The whole key; shown to its owner once and never stored. */
  key: string;
  /** The start of the key, stored and shown so the owner can tell keys apart. */
  prefix: string;
  hash: string;
}

export function generateApiKey(): GeneratedApiKey {
  const key = randomToken(apiKeyMarker);
  return { key, prefix: key.slice(0, apiKeyDisplayLength), hash: sha256Hex(key) };
}

/**
 * Tokens and keys carry 256 random bits, so a fast hash is enough (no offline guessing is
 * feasible) and lookups by hash stay index-fast.
 */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Cheap shape checks that spare the database a lookup for values that cannot match. */
export function isApiKeyShaped(value: string): boolean {
  return value.startsWith(apiKeyMarker) && randomPart.test(value.slice(apiKeyMarker.length));
}

export function isRefreshTokenShaped(value: string): boolean {
  return value.startsWith(refreshTokenMarker) && randomPart.test(value.slice(refreshTokenMarker.length));
}
