import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@zerostate/observability';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler, requestId, tlsOnly } from '../src/middleware/index.js';

/** Either a route's JSON or the gateway error body. */
type ResponseBody = Record<string, unknown> & { error: { code: string; message: string } };

const servers: Server[] = [];
const certificateDirectory = mkdtempSync(join(tmpdir(), 'zs-tls-test-'));

function buildApp(options: { enabled: boolean; trustProxy: string | false }) {
  const app = express();
  app.set('trust proxy', options.trustProxy);
  app.use(requestId());
  app.use(tlsOnly({ enabled: options.enabled }));
  app.get('/thing', (request, response) => {
    response.json({ secure: request.secure });
  });
  app.use(errorHandler({ logger: createLogger({ service: 'test', level: 'silent' }) }));
  return app;
}

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

async function servePlain(options: { enabled: boolean; trustProxy: string | false }): Promise<string> {
  const app = buildApp(options);
  const port = await listen(createHttpServer(app));
  return `http://127.0.0.1:${port}`;
}

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  rmSync(certificateDirectory, { recursive: true, force: true });
});

async function get(baseUrl: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/thing`, { headers });
  return {
    status: response.status,
    location: response.headers.get('location'),
    body: (await response.json()) as ResponseBody,
  };
}

describe('tlsOnly over plain HTTP', () => {
  let disabledUrl = '';
  let untrustedUrl = '';
  let trustedUrl = '';
  let otherProxyUrl = '';

  beforeAll(async () => {
    disabledUrl = await servePlain({ enabled: false, trustProxy: false });
    untrustedUrl = await servePlain({ enabled: true, trustProxy: false });
    trustedUrl = await servePlain({ enabled: true, trustProxy: 'loopback' });
    otherProxyUrl = await servePlain({ enabled: true, trustProxy: '10.0.0.1' });
  });

  it('when disabled, then plain HTTP is served', async () => {
    expect(await get(disabledUrl)).toMatchObject({ status: 200, body: { secure: false } });
  });

  it('when enabled and the request is plain HTTP, then it is refused with 403 TLS_REQUIRED and no redirect', async () => {
    const response = await get(untrustedUrl);
    expect(response.status).toBe(403);
    expect(response.location).toBeNull();
    expect(response.body.error.code).toBe('TLS_REQUIRED');
  });

  it('when no proxy is trusted and X-Forwarded-Proto says https, then the spoof is still refused', async () => {
    const response = await get(untrustedUrl, { 'x-forwarded-proto': 'https' });
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe('TLS_REQUIRED');
  });

  it('when the peer is not the trusted proxy and X-Forwarded-Proto says https, then it is refused', async () => {
    const response = await get(otherProxyUrl, { 'x-forwarded-proto': 'https' });
    expect(response.status).toBe(403);
  });

  it('when a trusted proxy says X-Forwarded-Proto https, then the request passes', async () => {
    expect(await get(trustedUrl, { 'x-forwarded-proto': 'https' })).toMatchObject({
      status: 200,
      body: { secure: true },
    });
  });

  it('when a trusted proxy says X-Forwarded-Proto http, then the request is refused', async () => {
    expect((await get(trustedUrl, { 'x-forwarded-proto': 'http' })).status).toBe(403);
  });
});

describe('tlsOnly over real HTTPS', () => {
  let port = 0;
  let certificate = '';

  beforeAll(async () => {
    const keyPath = join(certificateDirectory, 'key.pem');
    const certificatePath = join(certificateDirectory, 'cert.pem');
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ed25519', '-nodes', '-days', '1'],
        ...['-keyout', keyPath, '-out', certificatePath, '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ],
      { stdio: 'ignore' },
    );
    certificate = readFileSync(certificatePath, 'utf8');
    const app = buildApp({ enabled: true, trustProxy: false });
    port = await listen(createHttpsServer({ key: readFileSync(keyPath), cert: certificate }, app));
  });

  it('when the request arrives over TLS, then it passes with req.secure true', async () => {
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpsRequest(
        { host: '127.0.0.1', port, path: '/thing', ca: certificate },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            body += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      request.on('error', reject);
      request.end();
    });
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ secure: true });
  });
});
