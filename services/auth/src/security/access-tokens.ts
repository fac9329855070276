import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { UserAccount } from '../domain/types.js';
import { type SigningKeyRing, signingAlgorithm } from './signing-key-ring.js';

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/**
 * Signs an access token with the active key. `typ: access` in the claims keeps any other token
 * this service might sign later from passing as an access token.
 */
export async function signAccessToken(
  keyRing: SigningKeyRing,
  user: UserAccount,
  settings: AccessTokenSettings,
  /**
   * When the session was granted: taken inside the transaction that checked the user is active,
   * so a revocation committed after it is stamped later (docs/ARCHITECTURE.md "Revoking access tokens").
   */
  issuedAtMs: number = Date.now(),
): Promise<string> {
  const { kid, privateKey } = await keyRing.activeKey();
  const issuedAt = Math.floor(issuedAtMs / 1000);
  return new SignJWT({
    did: user.did,
    email: user.email,
    roles: user.roles,
    is_system: user.isSystem,
    typ: 'access',
    // `iat` has whole seconds; revocations are compared at millisecond precision, so a session
    // that starts right after a revocation (a refresh after a role change) is not refused with it.
    iat_ms: issuedAtMs,
  })
    .setProtectedHeader({ alg: signingAlgorithm, kid, typ: 'JWT' })
    .setSubject(user.id)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(issuedAt + settings.ttlSeconds)
    .setJti(randomUUID())
    .sign(privateKey);
}
