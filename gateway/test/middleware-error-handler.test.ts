import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError } from '@zerostate/errors';
import { createLogger } from '@zerostate/observability';
import { captureLines } from '@zerostate/testkit';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler, notFound, requestId } from '../src/middleware/index.js';

type ResponseBody = {
  error: { code: string; message: string; request_id: string | null; details?: unknown };
};

const secret = 'db password hunter2 at 10.1.2.3';
const { destination, entries: logLines } = captureLines();
let server: Server;
let baseUrl = '';

beforeAll(async () => {
  const logger = createLogger({ service: 'test', level: 'info', destination });
  const app = express();
  app.use(requestId());
  app.get('/app-error', () => {
    throw new AppError('CONFLICT', 'The task is already assigned.', { details: { state: 'assigned' } });
  });
  app.get('/retry', () => {
    throw new AppError('RATE_LIMITED', undefined, { details: { retry_after_seconds: 2.2 } });
  });
  app.get('/crash', () => {
    throw new Error(secret);
  });
  app.get('/async-crash', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    throw new TypeError(secret);
  });
  app.get('/internal-with-message', () => {
    throw new AppError('INTERNAL', secret);
  });
  app.get('/unavailable', () => {
    throw new AppError('SERVICE_UNAVAILABLE', undefined, { cause: new Error(secret) });
  });
  app.get('/items/:id', (_request, response) => {
    response.json({ ok: true });
  });
  app.get('/late-failure', (_request, response) => {
    response.write('partial');
    throw new Error(secret);
  });
  app.use(notFound());
  app.use(errorHandler({ logger }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function get(path: string, requestIdHeader = `test-${path.replaceAll('/', '')}`) {
  const response = await fetch(`${baseUrl}${path}`, { headers: { 'x-request-id': requestIdHeader } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as ResponseBody };
}

describe('errorHandler', () => {
  it('when an AppError is thrown, then its catalog status and client body are sent', async () => {
    const response = await get('/app-error', 'conflict-1');
    expect(response.status).toBe(409);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(response.body).toEqual({
      error: {
        code: 'CONFLICT',
        message: 'The task is already assigned.',
        request_id: 'conflict-1',
        details: { state: 'assigned' },
      },
    });
    expect(response.headers.get('retry-after')).toBeNull();
  });

  it('when details carry retry_after_seconds, then Retry-After is set in whole seconds', async () => {
    const response = await get('/retry');
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
  });

  it.each(['/crash', '/async-crash', '/internal-with-message'])(
    'when %s fails unexpectedly, then 500 INTERNAL with the generic message and no internals',
    async (path) => {
      const response = await get(path, 'crash-id');
      expect(response.status).toBe(500);
      expect(response.body).toEqual({
        error: { code: 'INTERNAL', message: 'An internal error occurred.', request_id: 'crash-id' },
      });
      expect(response.text).not.toContain('hunter2');
      expect(response.text).not.toContain('at ');
    },
  );

  it('when an unexpected error happens, then the real error and its stack are logged with the request id', async () => {
    await get('/crash', 'logged-crash');
    const line = logLines.find((entry) => entry.request_id === 'logged-crash');
    expect(line).toMatchObject({ level: 'error', code: 'INTERNAL' });
    const loggedError = line?.err as { message: string; stack: string };
    expect(loggedError.message).toBe(secret);
    expect(loggedError.stack).toContain('middleware-error-handler.test.ts');
  });

  it('when a 503 AppError has an internal cause, then only the catalog message reaches the client', async () => {
    const response = await get('/unavailable');
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(response.text).not.toContain('hunter2');
  });

  it('when a path parameter has broken percent-encoding, then 400 VALIDATION_FAILED', async () => {
    const response = await get('/items/%E0%A4%A');
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('when a route fails after the response started, then the connection is cut instead of a body sent', async () => {
    await expect(fetch(`${baseUrl}/late-failure`).then((response) => response.text())).rejects.toThrow();
  });
});

describe('notFound', () => {
  it('when no route matches, then 404 ROUTE_NOT_FOUND with the request id', async () => {
    const response = await get('/nowhere', 'missing-1');
    expect(response.status).toBe(404);
    expect(response.body).toEqual({
      error: { code: 'ROUTE_NOT_FOUND', message: 'No such route.', request_id: 'missing-1' },
    });
  });
});
