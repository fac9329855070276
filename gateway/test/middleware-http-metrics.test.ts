import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, Registry } from '@zerostate/observability';
import { captureLines } from '@zerostate/testkit';
import express, { Router } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler, httpMetrics, notFound, requestId } from '../src/middleware/index.js';

const registry = new Registry();
const { destination, entries: accessLog } = captureLines();
let releaseSlowRequest: () => void = () => {};
let slowRequestArrived: Promise<void>;
let server: Server;
let baseUrl = '';

function buildApp() {
  const logger = createLogger({ service: 'test', level: 'info', destination });
  const app = express();
  app.use(requestId());
  app.use(httpMetrics({ registry, logger }));
  app.use((request, response, next) => {
    // Stands in for the gateway's authentication, which puts the caller on res.locals.
    const userId = request.get('x-test-user');
    if (userId) response.locals.principal = { user_id: userId };
    next();
  });
  const api = Router();
  api.get('/items/:id', (_request, response) => {
    response.json({ ok: true });
  });
  api.get('/broken/:id', () => {
    throw new Error('boom');
  });
  api.get('/slow', async (_request, response) => {
    await new Promise<void>((resolve) => {
      releaseSlowRequest = resolve;
      signalSlowArrival();
    });
    response.json({ ok: true });
  });
  app.use('/api/v1', api);
  app.use(notFound());
  app.use(errorHandler({ logger: createLogger({ service: 'test', level: 'silent' }) }));
  return app;
}

let signalSlowArrival: () => void = () => {};

beforeAll(async () => {
  slowRequestArrived = new Promise((resolve) => {
    signalSlowArrival = resolve;
  });
  server = buildApp().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function sampleValue(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  const values = (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
  const sample = values.find((value) =>
    Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected),
  );
  return sample?.value;
}

describe('httpMetrics', () => {
  it('when a parameterised route in a sub-router answers, then it is counted under its full pattern', async () => {
    await fetch(`${baseUrl}/api/v1/items/4f3c2b`);
    await fetch(`${baseUrl}/api/v1/items/other-id`);
    expect(
      await sampleValue('http_requests_total', { method: 'GET', route: '/api/v1/items/:id', status: '200' }),
    ).toBe(2);
    expect(
      await sampleValue('http_request_duration_seconds', {
        method: 'GET',
        route: '/api/v1/items/:id',
        status: '200',
        le: '+Inf',
      }),
    ).toBe(2);
    expect(await registry.metrics()).not.toContain('4f3c2b');
  });

  it('when an error bubbles out of a sub-router, then the route label still has the mount path', async () => {
    await fetch(`${baseUrl}/api/v1/broken/7`);
    expect(
      await sampleValue('http_requests_total', { method: 'GET', route: '/api/v1/broken/:id', status: '500' }),
    ).toBe(1);
  });

  it('when nothing matches, then the route label is unmatched, never the raw URL', async () => {
    await fetch(`${baseUrl}/api/v1/secret-probe-path`);
    expect(
      await sampleValue('http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }),
    ).toBe(1);
    expect(await registry.metrics()).not.toContain('secret-probe-path');
  });

  it('when a request is being handled, then it is in flight until it finishes', async () => {
    const pending = fetch(`${baseUrl}/api/v1/slow`);
    await slowRequestArrived;
    expect(await sampleValue('http_requests_in_flight', {})).toBe(1);
    releaseSlowRequest();
    expect((await pending).status).toBe(200);
    expect(await sampleValue('http_requests_in_flight', {})).toBe(0);
  });

  it('when a request finishes, then one access-log line carries id, method, route, status, duration and user', async () => {
    await fetch(`${baseUrl}/api/v1/items/9`, {
      headers: { 'x-request-id': 'access-log-1', 'x-test-user': 'user-42' },
    });
    const lines = accessLog.filter((line) => line.request_id === 'access-log-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      request_id: 'access-log-1',
      method: 'GET',
      route: '/api/v1/items/:id',
      status: 200,
      user_id: 'user-42',
      message: 'request completed',
    });
    expect(typeof lines[0]?.duration_ms).toBe('number');
  });

  it('when the caller is anonymous, then the access-log user_id is null', async () => {
    await fetch(`${baseUrl}/nowhere`, { headers: { 'x-request-id': 'access-log-2' } });
    expect(accessLog.find((line) => line.request_id === 'access-log-2')).toMatchObject({
      route: 'unmatched',
      status: 404,
      user_id: null,
    });
  });
});
