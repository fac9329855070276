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
  /** The issue time in milliseconds (`iat` has whole seconds); absent in older tokens. */
  iat_ms: z.int().positive().optional(),
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
  /** How many verified tokens are remembered (see `createJwtVerifier`); 0 turns the cache off. */
  cacheSize?: number;
}

/** A token that passed every check but revocation, as it was then. */
interface VerifiedToken {
  principal: Principal;
  issuedAtMs: number;
  /** `exp` in milliseconds: the entry is not used from then on. */
  expiresAtMs: number;
  /** The key set that verified it; any other key set means verify again. */
  keySet: KeySet;
}

/**
 * Verifies access tokens locally against the auth service's JWKS (see `createKeySetCache` for
 * how keys are learnt and forgotten). Algorithm, issuer and audience are pinned, so `alg: none`
 * and HS256-with-the-public-key tokens are refused; only `typ: access` tokens pass, and none of
 * a user's issued before its last revocation (`revocations`).
 *
 * Verified tokens are remembered (at most `cacheSize`, oldest forgotten first), so a client that
 * sends the same token on every request pays the signature check once, not on each request.
 * An entry is the exact token string and is used only while it is unexpired (`exp`, without the
 * 5 s tolerance) and while the key set that verified it is still the current one, so a key the
 * auth service retired stops working at the same moment as without the cache. The revocation
 * check runs on every request, cached or not. Refused tokens are never remembered.
 */
export function createJwtVerifier(options: JwtVerifierOptions): AccessTokenVerifier {
  const failures = counter(
    options.registry,
    'auth_jwt_validation_failures_total',
    'Access tokens refused by the gateway, by reason.',
    ['reason'],
  );
  const cacheHits = counter(
    options.registry,
    'auth_jwt_cache_hits_total',
    'Access tokens accepted from the verified-token cache, without checking the signature again.',
  );
  const keys = createKeySetCache(options);
  const cacheSize = options.cacheSize ?? 10_000;
  const verified = new Map<string, VerifiedToken>();
  const remember = (token: string, entry: VerifiedToken) => {
    if (cacheSize <= 0) return;
    if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
    verified.set(token, entry);
  };
  const { revocations } = options;
  const admit = async (entry: VerifiedToken): Promise<Principal> => {
    if (!revocations.isReady()) await revocations.ready();
    if (revocations.isRevoked(entry.principal.user_id, entry.issuedAtMs)) return fail('revoked');
    return { ...entry.principal };
  };
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
      const cached = verified.get(token);
      if (cached) {
        if (cached.keySet === keys.peek() && Date.now() < cached.expiresAtMs) {
          cacheHits.inc();
          return admit(cached);
        }
        verified.delete(token);
      }
      let result: Awaited<ReturnType<typeof jwtVerify>>;
      let keySet: KeySet;
      try {
        try {
          keySet = await keys.current();
          result = await verifyWith(keySet, token);
        } catch (error) {
          if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
          keySet = await keys.afterUnknownKid();
          result = await verifyWith(keySet, token);
        }
      } catch (error) {
        if (error instanceof AppError) throw error;
        return fail(reasonOf(error));
      }
      const claims = accessClaims.safeParse(result.payload);
      if (!claims.success) return fail(result.payload.typ === 'access' ? 'claims' : 'wrong_type');
      const entry: VerifiedToken = {
        principal: {
          kind: 'user',
          user_id: claims.data.sub,
          did: claims.data.did,
          roles: claims.data.roles,
          is_system: claims.data.is_system,
        },
        issuedAtMs: claims.data.iat_ms ?? result.payload.iat! * 1000,
        expiresAtMs: result.payload.exp! * 1000,
        keySet,
      };
      remember(token, entry);
      return admit(entry);
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
  /** The JSON of the cached key set: an unchanged refetch keeps the same KeySet (and token cache). */
  let keySetJson: string | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let attemptedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;

  const fetchNow = () => {
    attemptedAt = performance.now();
    inFlight ??= options
      .fetchJwks()
      .then((jwks) => {
        const json = JSON.stringify(jwks);
        if (json !== keySetJson || !keySet) {
          keySet = createLocalJWKSet(jwks);
          keySetJson = json;
        }
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

  const refreshIfOld = () => {
    if (performance.now() - fetchedAt > maxAgeMs && performance.now() - attemptedAt > cooldownMs) {
      void fetchNow().catch(() => undefined);
    }
  };
  return {
    async current(): Promise<KeySet> {
      if (!keySet) return keepIfCached(fetchSoon());
      refreshIfOld();
      return keySet;
    },
    /** The key set in use now (refreshing it in the background when old), without waiting. */
    peek(): KeySet | undefined {
      if (keySet) refreshIfOld();
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
