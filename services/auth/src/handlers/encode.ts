import type { authEndpoints, ResponseOf } from '@zerostate/contracts';
import type { NewRefreshToken } from '../db/refresh-tokens.js';
import { generateRefreshToken, sha256Hex } from '../domain/secrets.js';
import type { ApiKeyRecord, UserAccount, UserProfile } from '../domain/types.js';
import { signAccessToken } from '../security/access-tokens.js';
import type { AuthDependencies } from './dependencies.js';

type Session = ResponseOf<typeof authEndpoints.login>;
type UserView = ResponseOf<typeof authEndpoints.me>;
type ApiKeyView = ResponseOf<typeof authEndpoints.listApiKeys>['items'][number];

export function encodeUser(user: UserProfile): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    did: user.did,
    roles: user.roles,
    is_active: user.isActive,
    created_at: user.createdAt.toISOString(),
    last_login_at: user.lastLoginAt?.toISOString() ?? null,
  };
}

export function encodeApiKey(key: ApiKeyRecord): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    created_at: key.createdAt.toISOString(),
    expires_at: key.expiresAt?.toISOString() ?? null,
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}

/** A fresh refresh token: the caller gets `token`, the database only `stored.hash`. */
export function newRefreshToken(dependencies: AuthDependencies): { token: string; stored: NewRefreshToken } {
  const token = generateRefreshToken();
  const expiresAt = new Date(Date.now() + dependencies.config.REFRESH_TOKEN_TTL_SECONDS * 1000);
  return { token, stored: { hash: sha256Hex(token), expiresAt } };
}

export async function encodeSession(
  dependencies: AuthDependencies,
  user: UserAccount,
  refreshToken: string,
  issuedAtMs?: number,
): Promise<Session> {
  const { config, metrics, keyRing } = dependencies;
  const accessToken = await signAccessToken(
    keyRing,
    user,
    {
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    },
    issuedAtMs,
  );
  metrics.tokensIssued.inc({ type: 'access' });
  metrics.tokensIssued.inc({ type: 'refresh' });
  return {
    user: encodeUser(user),
    access_token: accessToken,
    refresh_token: refreshToken,
    token_type: 'Bearer',
    expires_in: config.ACCESS_TOKEN_TTL_SECONDS,
  };
}
