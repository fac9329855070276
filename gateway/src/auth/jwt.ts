import { type Principal, principalSchema } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { counter, type Registry } from '@zerostate/observability';
import { createLocalJWKSet, errors, type JSONWebKeySet, jwtVerify } from 'jose';
import { z } from 'zod';

/** The claims an access token must carry (SPEC §4.1); anything else in it is ignored. */
const accessClaims = z.object({
  sub: z.uuid(),
  did: z.string().max(200),
  roles: principalSchema.shape.roles,
  is_system: z.boolean(),
  typ: z.literal('access'),
});

export interface AccessTokenVerifier {
  /** Resolves to the caller, or throws AppError INVALID_TOKEN (or SERVICE_UNAVAILABLE while no key set could ever be loaded). */
  verify(token: string): Promise<Principal>;
}

export interface JwtVerifierOptions {
  fetchJwks: () => Promise<JSONWebKeySet>;
  issuer: string;
  audience: string;
  registry: Registry;
  /**
   * JWKS refreshes are at least this far apart. A token with an unknown `kid` inside that window
   * waits for the refresh scheduled at its end instead of failing, so a just-rotated key is never
   * refused, while forged kids cost at most one refresh per interval however many arrive.
   */
  refreshCooldownMs?: number;
}

/**
 * Verifies access tokens locally against the auth service's JWKS. The key set is cached and
 * refreshed when a token names an unknown `kid` (that is how a rotated key is learnt), at most
 * once per cooldown so forged kids cannot flood the auth service. Algorithm, issuer and audience
 * are pinned, so `alg: none` and HS256-with-the-public-key tokens are refused.
 */
export function createJwtVerifier(options: JwtVerifierOptions): AccessTokenVerifier {
  const failures = counter(
    options.registry,
    'auth_jwt_validation_failures_total',
    'Access tokens refused by the gateway, by reason.',
    ['reason'],
  );
  const cooldownMs = options.refreshCooldownMs ?? 1_000;
  let keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  let lastRefreshAt = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | undefined;
  let scheduled: Promise<void> | undefined;

  const refresh = () => {
    refreshing ??= options
      .fetchJwks()
      .then((jwks) => {
        keySet = createLocalJWKSet(jwks);
        lastRefreshAt = performance.now();
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  };

  /** Refreshes now, or once the cooldown ends; every caller in the window shares that refresh. */
  const refreshForUnknownKid = () => {
    const waitMs = lastRefreshAt + cooldownMs - performance.now();
    if (waitMs <= 0) return refresh();
    scheduled ??= new Promise<void>((resolve) => setTimeout(resolve, waitMs)).then(refresh).finally(() => {
      scheduled = undefined;
    });
    return scheduled;
  };

  const verifyOnce = async (token: string) => {
    if (!keySet) await refresh();
    return jwtVerify(token, keySet!, {
      algorithms: ['EdDSA'],
      issuer: options.issuer,
      audience: options.audience,
      requiredClaims: ['sub', 'iat', 'nbf', 'exp', 'jti'],
      clockTolerance: 5,
    });
  };

  const fail = (reason: string): never => {
    failures.inc({ reason });
    throw new AppError('INVALID_TOKEN');
  };

  return {
    async verify(token) {
      let result: Awaited<ReturnType<typeof jwtVerify>>;
      try {
        try {
          result = await verifyOnce(token);
        } catch (error) {
          if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
          await refreshForUnknownKid();
          result = await verifyOnce(token);
        }
      } catch (error) {
        if (error instanceof AppError) throw error;
        return fail(reasonOf(error));
      }
      const claims = accessClaims.safeParse(result.payload);
      if (!claims.success) return fail(result.payload.typ === 'access' ? 'claims' : 'wrong_type');
      return {
        kind: 'user',
        user_id: claims.data.sub,
        did: claims.data.did,
        roles: claims.data.roles,
        is_system: claims.data.is_system,
      };
    },
  };
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim_${error.claim}`;
  if (error instanceof errors.JWKSNoMatchingKey) return 'unknown_kid';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm';
  return 'malformed';
}
