import { randomUUID } from 'node:crypto';
import { connectBus, endpoint, type NatsConnection, serveEndpoints } from '@zerostate/bus';
import { authEndpoints } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { createLogger, createRegistry } from '@zerostate/observability';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export const testIssuer = 'zerostate-auth';
export const testAudience = 'zerostate-api';

/**
 * Stands in for the auth service's key-holding side in gateway-only tests: it answers the real
 * `svc.auth.jwks` and `svc.auth.me` contracts over NATS through the real handler adapter, and
 * signs tokens whose every claim a test can bend. The real auth service is exercised by the
 * end-to-end test.
 */
export async function startTestSigner(natsUrl: string) {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const kid = `test-${randomUUID()}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kty: 'OKP', kid, alg: 'EdDSA', use: 'sig' as const };
  const nc: NatsConnection = await connectBus({ servers: natsUrl, name: 'test-signer' });
  const logger = createLogger({ service: 'test-signer', level: 'silent' });
  let jwksCalls = 0;
  const service = await serveEndpoints(nc, {
    name: 'auth',
    version: '0.0.0',
    logger,
    registry: createRegistry('test-signer'),
    registrations: [
      endpoint(authEndpoints.jwks, async () => {
        jwksCalls += 1;
        return { keys: [publicJwk] };
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
      endpoint(authEndpoints.verifyApiKey, async () => {
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
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT', ...header })
      .sign(privateKey);
  };

  return {
    kid,
    publicKey,
    sign,
    /** How often the gateway fetched the JWKS. */
    jwksCalls: () => jwksCalls,
    stop: async () => {
      await service.stop();
      await nc.drain();
    },
  };
}
