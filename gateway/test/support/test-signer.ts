import { randomUUID } from 'node:crypto';
import { connectBus, encodeJson, endpoint, type NatsConnection, serveEndpoints } from '@zerostate/bus';
import { authEndpoints, authEvents } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { createLogger, createRegistry } from '@zerostate/observability';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { gatewayTrust } from './bus-trust.js';

export const testIssuer = 'zerostate-auth';
export const testAudience = 'zerostate-api';

/**
 * Stands in for the auth service's key-holding side in gateway-only tests: it answers the real
 * `svc.auth.jwks` and `svc.auth.me` contracts over NATS through the real handler adapter, and
 * signs tokens whose every claim a test can bend. The real auth service is exercised by the
 * end-to-end test.
 */
export async function startTestSigner(natsUrl: string) {
  const newKey = async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const kid = `test-${randomUUID()}`;
    const jwk = { ...(await exportJWK(pair.publicKey)), kty: 'OKP', kid, alg: 'EdDSA', use: 'sig' as const };
    return { ...pair, kid, jwk };
  };
  let current = await newKey();
  const nc: NatsConnection = await connectBus({ servers: natsUrl, name: 'test-signer' });
  const logger = createLogger({ service: 'test-signer', level: 'silent' });
  let jwksCalls = 0;
  let jwksAvailable = true;
  let apiKeyLookups = 0;
  const revocations = new Map<string, { user_id: string; revoked_at: string; expires_at: string }>();
  const service = await serveEndpoints(nc, {
    name: 'auth',
    version: '0.0.0',
    logger,
    registry: createRegistry('test-signer'),
    verifier: gatewayTrust.auth.verifier,
    registrations: [
      endpoint(authEndpoints.jwks, async () => {
        jwksCalls += 1;
        if (!jwksAvailable) throw new AppError('SERVICE_UNAVAILABLE');
        return { keys: [current.jwk] };
      }),
      endpoint(authEndpoints.me, async (_input, context) => {
        if (!context.principal) throw new AppError('UNAUTHENTICATED');
        const now = new Date().toISOString();
        return {
          id: context.principal.user_id,
          email: `${context.principal.user_id}@example.com`,
          name: null,
          did: context.principal.did,
          roles: context.principal.roles,
          is_active: true,
          created_at: now,
          last_login_at: null,
        };
      }),
      endpoint(authEndpoints.sessionRevocations, async (input) => ({
        items: [...revocations.values()].filter(
          (revocation) => input.since === undefined || revocation.revoked_at > input.since,
        ),
        next_since: null,
      })),
      endpoint(authEndpoints.verifyApiKey, async () => {
        apiKeyLookups += 1;
        throw new AppError('INVALID_API_KEY');
      }),
    ],
  });

  /** A correctly signed access token; `overrides` bend claims, `header` bends the header. */
  const sign = async (overrides: JWTPayload = {}, header: Record<string, unknown> = {}) => {
    const userId = (overrides.sub as string | undefined) ?? randomUUID();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      did: `did:zerostate:user:${userId}`,
      roles: ['user'],
      is_system: false,
      typ: 'access',
      iss: testIssuer,
      aud: testAudience,
      sub: userId,
      iat: now,
      nbf: now,
      exp: now + 900,
      jti: randomUUID(),
      ...overrides,
    })
      .setProtectedHeader({ alg: 'EdDSA', kid: current.kid, typ: 'JWT', ...header })
      .sign(current.privateKey);
  };

  return {
    get kid() {
      return current.kid;
    },
    get publicKey() {
      return current.publicKey;
    },
    sign,
    /** Makes the JWKS endpoint fail (as if the auth service's database were down). */
    setJwksAvailable: (available: boolean) => {
      jwksAvailable = available;
    },
    /** Replaces the key: the JWKS then lists only the new one, as after the old key's verify_until. */
    rotate: async () => {
      current = await newKey();
    },
    /**
     * Revokes the user's sessions now, as the auth service would: listed by
     * svc.auth.session-revocations, and published as the event unless `publish` is false.
     */
    revokeSessions: async (userId: string, options: { publish?: boolean } = {}) => {
      const now = Date.now();
      const revocation = {
        user_id: userId,
        revoked_at: new Date(now).toISOString(),
        expires_at: new Date(now + 900_000).toISOString(),
      };
      revocations.set(userId, revocation);
      if (options.publish !== false) {
        nc.publish(authEvents.sessionsRevoked.subject, encodeJson({ data: revocation }));
        await nc.flush();
      }
      return revocation;
    },
    /** How often the gateway asked to verify an API key. */
    apiKeyLookups: () => apiKeyLookups,
    /** How often the gateway fetched the JWKS. */
    jwksCalls: () => jwksCalls,
    stop: async () => {
      await service.stop();
      await nc.drain();
    },
  };
}

/**
 * A token with every access claim right, signed by a key the gateway has never seen and
 * announcing `kid`: it must be refused however plausible it looks.
 */
export async function signWithStrangerKey(kid: string): Promise<string> {
  const stranger = await generateKeyPair('EdDSA');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ typ: 'access', did: 'did:zerostate:user:x', roles: ['user'], is_system: false })
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .setSubject(randomUUID())
    .setIssuer(testIssuer)
    .setAudience(testAudience)
    .setIssuedAt()
    .setNotBefore(now)
    .setExpirationTime(now + 600)
    .setJti(randomUUID())
    .sign(stranger.privateKey);
}
