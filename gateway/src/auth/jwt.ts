import { type Principal, principalSchema } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { counter, type Registry } from '@zerostate/observability';
import { createLocalJWKSet, errors, type JSONWebKeySet, jwtVerify } from 'jose';
import { z } from 'zod';
import type { RevocationList } from './revocations.js';

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
   * JWKS fetches are at least this far apart. A token with an unknown `kid` inside that window
   * waits for the fetch scheduled at its end instead of failing, so a just-rotated key is never
   * refused, while forged kids cost at most one fetch per interval however many arrive.
   */
  refreshCooldownMs?: number;
  /**
   * A key set older than this is refreshed in the background, so a key the auth service has
   * retired (past its `verify_until`) stops being trusted here too.
   */
  maxAgeMs?: number;
  /** Users whose tokens issued before a revocation are refused although correctly signed. */
  revocations: Pick<RevocationList, 'ready' | 'isReady' | 'isRevoked'>;
}

/**
 * Verifies access tokens locally against the auth service's JWKS (see `createKeySetCache` for
 * how keys are learnt and forgotten). Algorithm, issuer and audience are pinned, so `alg: none`
 * and HS256-with-the-public-key tokens are refused; only `typ: access` tokens pass, and none of
 * a user's issued before its last revocation (`revocations`).
 */
export function createJwtVerifier(options: JwtVerifierOptions): AccessTokenVerifier {
  const failures = counter(
    options.registry,
    'auth_jwt_validation_failures_total',
    'Access tokens refused by the gateway, by reason.',
    ['reason'],
  );
  const keys = createKeySetCache(options);
  const verifyWith = async (keySet: KeySet, token: string) =>
    jwtVerify(token, keySet, {
      algorithms: ['EdDSA'],
      issuer: options.issuer,
      audience: options.audience,
      requiredClaims: ['sub', 'iat', 'nbf', 'exp', 'jti'],
      clockTolerance: 5,
    });
  const fail = (reason: string): never => {
    failures.inc({ reason });
    throw new AppError('INVALID_TOKEN');
  };

  return {
    async verify(token) {
      let result: Awaited<ReturnType<typeof jwtVerify>>;
      try {
        try {
          result = await verifyWith(await keys.current(), token);
        } catch (error) {
          if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
          result = await verifyWith(await keys.afterUnknownKid(), token);
        }
      } catch (error) {
        if (error instanceof AppError) throw error;
        return fail(reasonOf(error));
      }
      const claims = accessClaims.safeParse(result.payload);
      if (!claims.success) return fail(result.payload.typ === 'access' ? 'claims' : 'wrong_type');
      const { revocations } = options;
      if (!revocations.isReady()) await revocations.ready();
      if (revocations.isRevoked(claims.data.sub, result.payload.iat!)) return fail('revoked');
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

type KeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * The cached JWKS. Fetches are spaced by the cooldown (failed ones too, so an unreachable auth
 * service is not hammered) and shared by every caller waiting at the same time. Once a key set
 * is cached, a failed fetch keeps it: verification goes on while the auth service is down, and
 * an unknown kid then simply stays unknown (401), never 503.
 */
function createKeySetCache(options: JwtVerifierOptions) {
  const cooldownMs = options.refreshCooldownMs ?? 1_000;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  let keySet: KeySet | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let attemptedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;

  const fetchNow = () => {
    attemptedAt = performance.now();
    inFlight ??= options
      .fetchJwks()
      .then((jwks) => {
        keySet = createLocalJWKSet(jwks);
        fetchedAt = performance.now();
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
  /** Fetches now, or when the cooldown ends; callers in between share that one fetch. */
  const fetchSoon = () => {
    if (inFlight) return inFlight;
    const waitMs = attemptedAt + cooldownMs - performance.now();
    if (waitMs <= 0) return fetchNow();
    attemptedAt = performance.now() + waitMs;
    inFlight = new Promise<void>((resolve) => setTimeout(resolve, waitMs)).then(() => {
      inFlight = undefined;
      return fetchNow();
    });
    return inFlight;
  };
  const keepIfCached = async (work: Promise<void>): Promise<KeySet> => {
    try {
      await work;
    } catch (error) {
      if (!keySet) throw error;
    }
    return keySet!;
  };

  return {
    async current(): Promise<KeySet> {
      if (!keySet) return keepIfCached(fetchSoon());
      if (performance.now() - fetchedAt > maxAgeMs && performance.now() - attemptedAt > cooldownMs) {
        void fetchNow().catch(() => undefined);
      }
      return keySet;
    },
    afterUnknownKid: (): Promise<KeySet> => keepIfCached(fetchSoon()),
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
