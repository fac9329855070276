import { randomBytes } from 'node:crypto';
import { startNatsServer, startRedisServer } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';
import { startGateway } from './support/in-process.js';
import { startTestSigner } from './support/test-signer.js';
import { httpsGet, selfSignedCertificate } from './support/tls.js';

type Nats = Awaited<ReturnType<typeof startNatsServer>>;
type Signer = Awaited<ReturnType<typeof startTestSigner>>;

let nats: Nats;
let signer: Signer;

beforeAll(async () => {
  nats = await startNatsServer();
  signer = await startTestSigner(nats.url);
});
afterAll(async () => {
  await signer?.stop();
  await nats?.stop();
});

describe('when browsers and clients meet the edge', () => {
  test('then an origin outside the allowlist gets no Access-Control-Allow-Origin and an allowed one does', async () => {
    const gateway = await startGateway({ NATS_URL: nats.url, CORS_ORIGINS: 'https://app.zerostate.example' });
    try {
      const foreign = await fetch(`${gateway.baseUrl}/.well-known/jwks.json`, {
        headers: { origin: 'https://evil.example' },
      });
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await fetch(`${gateway.baseUrl}/api/v1/users/me`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
      const allowed = await fetch(`${gateway.baseUrl}/.well-known/jwks.json`, {
        headers: { origin: 'https://app.zerostate.example' },
      });
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.zerostate.example');
    } finally {
      await gateway.stop();
    }
  });

  test('then the OpenAPI document generated from the contracts is served at /openapi.json', async () => {
    const gateway = await startGateway({ NATS_URL: nats.url });
    try {
      const response = await call<{ openapi: string; paths: Record<string, unknown> }>(
        gateway.baseUrl,
        'GET',
        '/openapi.json',
      );
      expect(response.status).toBe(200);
      expect(response.body.openapi).toBe('3.1.0');
      expect(Object.keys(response.body.paths)).toContain('/api/v1/auth/login');
    } finally {
      await gateway.stop();
    }
  });

  test("then helmet's headers are present and no HSTS is sent outside TLS mode", async () => {
    const gateway = await startGateway({ NATS_URL: nats.url });
    try {
      const response = await fetch(`${gateway.baseUrl}/health`);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBeTruthy();
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(response.headers.get('x-powered-by')).toBeNull();
      expect(response.headers.get('strict-transport-security')).toBeNull();
    } finally {
      await gateway.stop();
    }
  });

  test('then in TLS mode HTTPS is served with HSTS', async () => {
    const certificate = selfSignedCertificate();
    const gateway = await startGateway({
      NATS_URL: nats.url,
      TLS_CERT_FILE: certificate.certFile,
      TLS_KEY_FILE: certificate.keyFile,
      TLS_ONLY: 'true',
    });
    try {
      const response = await httpsGet(`${gateway.baseUrl}/health`, certificate.cert);
      expect(response.status).toBe(200);
      expect(String(response.headers['strict-transport-security'])).toContain('max-age=');
      await expect(fetch(`http://127.0.0.1:${gateway.port}/health`)).rejects.toThrow();
    } finally {
      await gateway.stop();
    }
  });

  test('then in TLS-only mode a plain-HTTP request is refused, even with a spoofed X-Forwarded-Proto, while probes answer', async () => {
    const gateway = await startGateway({ NATS_URL: nats.url, TLS_ONLY: 'true' });
    try {
      const plain = await call(gateway.baseUrl, 'GET', '/api/v1/users/me');
      expect(plain.status).toBe(403);
      expect(plain.body).toMatchObject({ error: { code: 'TLS_REQUIRED' } });
      const spoofed = await call(gateway.baseUrl, 'GET', '/.well-known/jwks.json', {
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(spoofed.status).toBe(403);
      const probe = await call(gateway.baseUrl, 'GET', '/health');
      expect(probe.status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });

  test('then behind a trusted proxy that terminated TLS the request passes', async () => {
    const gateway = await startGateway({ NATS_URL: nats.url, TLS_ONLY: 'true', TRUSTED_PROXIES: 'loopback' });
    try {
      const viaProxy = await call(gateway.baseUrl, 'GET', '/.well-known/jwks.json', {
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(viaProxy.status).toBe(200);
      expect(viaProxy.headers.get('strict-transport-security')).toContain('max-age=');
    } finally {
      await gateway.stop();
    }
  });
});

describe('when a client guesses API keys', () => {
  test('then lookups stop at the per-address budget with 429, before the auth service sees them all', async () => {
    const gateway = await startGateway({
      NATS_URL: nats.url,
      RATE_LIMIT_CAPACITY: '1000',
      API_KEY_LOOKUP_REFILL_PER_MINUTE: '1',
    });
    try {
      const before = signer.apiKeyLookups();
      const statuses: number[] = [];
      for (let guess = 0; guess < 30; guess += 1) {
        const key = `zs_${randomBytes(32).toString('base64url')}`;
        statuses.push((await call(gateway.baseUrl, 'GET', '/api/v1/users/me', { apiKey: key })).status);
      }
      expect(signer.apiKeyLookups() - before).toBe(20);
      expect(statuses.slice(0, 20).every((status) => status === 401)).toBe(true);
      expect(statuses.slice(20).every((status) => status === 429)).toBe(true);
    } finally {
      await gateway.stop();
    }
  });
});

describe('when a request body holds a secret', () => {
  test('then no log line carries it, not even at debug level when the JSON is malformed', async () => {
    const gateway = await startGateway({ NATS_URL: nats.url, LOG_LEVEL: 'debug' });
    const secret = `pw-${Date.now()}-do-not-log`;
    try {
      const response = await fetch(`${gateway.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"email": "a@example.com", "password": "${secret}", }`,
      });
      expect(response.status).toBe(400);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(gateway.lines.some((line) => line.includes('MALFORMED_JSON'))).toBe(true);
      expect(gateway.lines.filter((line) => line.includes(secret))).toEqual([]);
    } finally {
      await gateway.stop();
    }
  });
});

describe('when one client sends a burst', () => {
  test('then the 21st immediate request gets 429 with Retry-After and RateLimit headers while another user is unaffected', async () => {
    // Capacity stays 20; a one-per-minute refill keeps a slow machine from earning a token mid-burst.
    const gateway = await startGateway({ NATS_URL: nats.url, RATE_LIMIT_REFILL_PER_MINUTE: '1' });
    try {
      const greedy = await signer.sign();
      const statuses: number[] = [];
      for (let index = 0; index < 20; index += 1) {
        statuses.push((await call(gateway.baseUrl, 'GET', '/api/v1/users/me', { token: greedy })).status);
      }
      expect(statuses.every((status) => status === 200)).toBe(true);
      const limited = await call(gateway.baseUrl, 'GET', '/api/v1/users/me', { token: greedy });
      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited.headers.get('ratelimit')).toBeTruthy();
      expect(limited.headers.get('ratelimit-policy')).toBeTruthy();
      const other = await call(gateway.baseUrl, 'GET', '/api/v1/users/me', { token: await signer.sign() });
      expect(other.status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });

  test('then with Redis unreachable from the start requests are still limited and none is 5xx', async () => {
    const gateway = await startGateway({
      NATS_URL: nats.url,
      REDIS_URL: 'redis://127.0.0.1:1',
      RATE_LIMIT_REFILL_PER_MINUTE: '1',
    });
    try {
      const token = await signer.sign();
      const statuses: number[] = [];
      for (let index = 0; index < 25; index += 1) {
        statuses.push((await call(gateway.baseUrl, 'GET', '/api/v1/users/me', { token })).status);
      }
      expect(statuses.some((status) => status >= 500)).toBe(false);
      expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(20);
      expect(statuses).toContain(429);
    } finally {
      await gateway.stop();
    }
  });

  test('then when Redis dies mid-traffic requests are still limited and none is 5xx', async () => {
    const redis = await startRedisServer();
    const gateway = await startGateway({
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      RATE_LIMIT_REFILL_PER_MINUTE: '1',
    });
    try {
      const token = await signer.sign();
      expect((await call(gateway.baseUrl, 'GET', '/api/v1/users/me', { token })).status).toBe(200);
      await redis.stop();
      const statuses: number[] = [];
      for (let index = 0; index < 30; index += 1) {
        statuses.push((await call(gateway.baseUrl, 'GET', '/api/v1/users/me', { token })).status);
      }
      expect(statuses.some((status) => status >= 500)).toBe(false);
      expect(statuses).toContain(429);
    } finally {
      await gateway.stop();
      await redis.stop();
    }
  });
});
