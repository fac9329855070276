import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@zerostate/observability';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corsAllowlist,
  errorHandler,
  notFound,
  requestId,
  securityHeaders,
} from '../src/middleware/index.js';

const allowedOrigin = 'https://console.zerostate.example';
const otherOrigin = 'https://evil.example';
const servers: Server[] = [];

async function serve(hsts: boolean): Promise<string> {
  const app = express();
  app.use(requestId());
  app.use(securityHeaders({ hsts }));
  app.use(corsAllowlist({ origins: [allowedOrigin, 'http://localhost:5173'] }));
  app.get('/thing', (_request, response) => {
    response.json({ ok: true });
  });
  app.use(notFound());
  app.use(errorHandler({ logger: createLogger({ service: 'test', level: 'silent' }) }));
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let plainUrl = '';
let hstsUrl = '';

beforeAll(async () => {
  plainUrl = await serve(false);
  hstsUrl = await serve(true);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

function preflight(origin: string) {
  return fetch(`${plainUrl}/thing`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, idempotency-key',
    },
  });
}

describe('securityHeaders', () => {
  it('when a response is sent, then the API security headers are set and X-Powered-By is absent', async () => {
    const response = await fetch(`${plainUrl}/thing`);
    expect(response.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  it('when hsts is false, then no Strict-Transport-Security header is sent', async () => {
    const response = await fetch(`${plainUrl}/thing`);
    expect(response.headers.get('strict-transport-security')).toBeNull();
  });

  it('when hsts is true, then HSTS is one year with subdomains', async () => {
    const response = await fetch(`${hstsUrl}/thing`);
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });
});

describe('corsAllowlist', () => {
  it('when an allowed origin calls, then its origin is echoed, Vary has Origin and credentials stay off', async () => {
    const response = await fetch(`${plainUrl}/thing`, { headers: { origin: allowedOrigin } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
    expect(response.headers.get('vary')).toContain('Origin');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('access-control-expose-headers')).toBe(
      'RateLimit,RateLimit-Policy,Retry-After,X-Request-Id',
    );
  });

  it('when an allowed origin sends a preflight, then methods and headers are granted with 204', async () => {
    const response = await preflight(allowedOrigin);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET,POST,PATCH,DELETE');
    expect(response.headers.get('access-control-allow-headers')).toBe(
      'Authorization,Content-Type,X-API-Key,Idempotency-Key,X-Request-Id',
    );
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('when another origin calls, then the request is served without any CORS grant', async () => {
    const response = await fetch(`${plainUrl}/thing`, { headers: { origin: otherOrigin } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-expose-headers')).toBeNull();
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('when another origin sends a preflight, then it gets no CORS grant', async () => {
    const response = await preflight(otherOrigin);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('when an origin differs only by a trailing slash or scheme, then it is not allowed', async () => {
    for (const origin of [`${allowedOrigin}/`, 'http://console.zerostate.example', 'null']) {
      const response = await fetch(`${plainUrl}/thing`, { headers: { origin } });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
  });
});
