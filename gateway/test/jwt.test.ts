import { randomUUID } from 'node:crypto';
import { metricTotal, startNatsServer, waitUntil } from '@zerostate/testkit';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';
import { startGateway } from './support/in-process.js';
import { signWithStrangerKey, startTestSigner } from './support/test-signer.js';

type Server = Awaited<ReturnType<typeof startNatsServer>>;
type Signer = Awaited<ReturnType<typeof startTestSigner>>;
type Gateway = Awaited<ReturnType<typeof startGateway>>;

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('when access tokens are presented to the gateway', () => {
  let nats: Server;
  let signer: Signer;
  let gateway: Gateway;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    nats = await startNatsServer();
    signer = await startTestSigner(nats.url);
    gateway = await startGateway({ NATS_URL: nats.url, RATE_LIMIT_CAPACITY: '1000' });
  });
  afterAll(async () => {
    await gateway?.stop();
    await signer?.stop();
    await nats?.stop();
  });

  const me = (token: string) => call(gateway.baseUrl, 'GET', '/api/v1/users/me', { token });

  test('then a correctly signed access token is accepted (the control case)', async () => {
    const response = await me(await signer.sign());
    expect(response.status).toBe(200);
  });

  test('then no token on a protected route is 401 UNAUTHENTICATED', async () => {
    const response = await call(gateway.baseUrl, 'GET', '/api/v1/users/me');
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });

  const corpus: [string, () => Promise<string>][] = [
    [
      'alg none',
      async () => {
        const valid = await signer.sign();
        const payload = valid.split('.')[1];
        return `${base64url({ alg: 'none', typ: 'JWT', kid: signer.kid })}.${payload}.`;
      },
    ],
    [
      'HS256 signed with the public key',
      async () => {
        const secret = new TextEncoder().encode(await exportSPKI(signer.publicKey));
        return new SignJWT({ typ: 'access', did: 'did:zerostate:user:x', roles: ['admin'], is_system: true })
          .setProtectedHeader({ alg: 'HS256', kid: signer.kid })
          .setSubject(randomUUID())
          .setIssuer('zerostate-auth')
          .setAudience('zerostate-api')
          .setIssuedAt()
          .setNotBefore(now())
          .setExpirationTime(now() + 600)
          .setJti(randomUUID())
          .sign(secret);
      },
    ],
    ['an unknown kid signed by a stranger', () => signWithStrangerKey('unknown-kid')],
    [
      'a stranger key claiming our kid',
      async () => {
        const stranger = await generateKeyPair('EdDSA');
        const token = await signer.sign();
        const [header, payload] = token.split('.');
        const forged = await new SignJWT(JSON.parse(Buffer.from(payload!, 'base64url').toString()))
          .setProtectedHeader(JSON.parse(Buffer.from(header!, 'base64url').toString()))
          .sign(stranger.privateKey);
        return forged;
      },
    ],
    ['expired', () => signer.sign({ iat: now() - 1_000, nbf: now() - 1_000, exp: now() - 60 })],
    ['nbf in the future', () => signer.sign({ nbf: now() + 120 })],
    ['wrong iss', () => signer.sign({ iss: 'https://evil.example' })],
    ['wrong aud', () => signer.sign({ aud: 'some-other-api' })],
    [
      'a tampered payload',
      async () => {
        const [header, payload, signature] = (await signer.sign()).split('.');
        const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
        return `${header}.${base64url({ ...claims, roles: ['user', 'admin'], is_system: true })}.${signature}`;
      },
    ],
    ['a refresh-typed JWT', () => signer.sign({ typ: 'refresh' })],
    ['an opaque refresh token', async () => `zsr_${Buffer.alloc(32, 7).toString('base64url')}`],
    ['garbage', async () => 'not-even-a-jwt'],
    ['missing required claims (no jti, no nbf)', () => signer.sign({ jti: undefined, nbf: undefined })],
  ];

  test.each(corpus)('then %s is refused with 401', async (_name, makeToken) => {
    const before = metricTotal(
      await (await fetch(`${gateway.baseUrl}/metrics`)).text(),
      'auth_jwt_validation_failures_total',
    );
    const response = await me(await makeToken());
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: { code: 'INVALID_TOKEN' } });
    expect(JSON.stringify(response.body)).not.toMatch(/\bat .*\.ts:\d+/);
    const after = metricTotal(
      await (await fetch(`${gateway.baseUrl}/metrics`)).text(),
      'auth_jwt_validation_failures_total',
    );
    expect(after).toBeGreaterThan(before);
  });

  test('then a flood of tokens with forged kids costs the auth service at most one JWKS fetch per second', async () => {
    const forged = await Promise.all(
      Array.from({ length: 20 }, (_, index) => signWithStrangerKey(`forged-${index}`)),
    );
    const before = signer.jwksCalls();
    const responses = await Promise.all(forged.map((token) => me(token)));
    expect(responses.every((response) => response.status === 401)).toBe(true);
    expect(signer.jwksCalls() - before).toBeLessThanOrEqual(2);
    expect(signer.jwksCalls() - before).toBeGreaterThanOrEqual(1);
  });
});

describe("when a user's sessions are revoked", () => {
  let nats: Server;
  let signer: Signer;
  let gateway: Gateway;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    nats = await startNatsServer();
    signer = await startTestSigner(nats.url);
    // A short poll, so the test sees the safety net (not only the event) work.
    gateway = await startGateway({
      NATS_URL: nats.url,
      RATE_LIMIT_CAPACITY: '1000',
      SESSION_REVOCATION_POLL_MS: '200',
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await signer?.stop();
    await nats?.stop();
  });

  const meThrough = (baseUrl: string, token: string) => call(baseUrl, 'GET', '/api/v1/users/me', { token });

  test('then a token issued before is refused as soon as the event arrives, and one issued later is accepted', async () => {
    const userId = randomUUID();
    const before = await signer.sign({ sub: userId, iat: now() - 5, nbf: now() - 5 });
    expect((await meThrough(gateway.baseUrl, before)).status).toBe(200);
    await signer.revokeSessions(userId);
    await waitUntil(
      'the event is applied',
      async () => (await meThrough(gateway.baseUrl, before)).status === 401,
    );
    expect((await meThrough(gateway.baseUrl, before)).body).toMatchObject({
      error: { code: 'INVALID_TOKEN' },
    });
    const later = await signer.sign({ sub: userId, iat: now() + 2, nbf: now() });
    expect((await meThrough(gateway.baseUrl, later)).status).toBe(200);
    const other = await signer.sign({ iat: now() - 5, nbf: now() - 5 });
    expect((await meThrough(gateway.baseUrl, other)).status).toBe(200);
  });

  test('then a gateway that missed the event learns it from its poll, and a gateway started later from its first read', async () => {
    const userId = randomUUID();
    const token = await signer.sign({ sub: userId, iat: now() - 5, nbf: now() - 5 });
    expect((await meThrough(gateway.baseUrl, token)).status).toBe(200);
    await signer.revokeSessions(userId, { publish: false });
    await waitUntil(
      'the poll finds it',
      async () => (await meThrough(gateway.baseUrl, token)).status === 401,
    );
    const late = await startGateway({ NATS_URL: nats.url, RATE_LIMIT_CAPACITY: '1000' });
    try {
      expect((await meThrough(late.baseUrl, token)).status).toBe(401);
    } finally {
      await late.stop();
    }
  });
});
