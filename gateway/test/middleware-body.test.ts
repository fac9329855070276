import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createLogger } from '@zerostate/observability';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler, jsonBody, notFound, requestId } from '../src/middleware/index.js';

/** Either a route's JSON or the gateway error body. */
type ResponseBody = Record<string, unknown> & { error: { code: string; message: string } };

const limitBytes = 256;
let server: Server;
let baseUrl = '';
let port = 0;

beforeAll(async () => {
  const app = express();
  app.use(requestId());
  app.use(jsonBody({ limitBytes }));
  app.all('/echo', (request, response) => {
    response.json({ body: request.body ?? null });
  });
  app.use(notFound());
  app.use(errorHandler({ logger: createLogger({ service: 'test', level: 'silent' }) }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function send(
  method: string,
  body: string | Uint8Array | undefined,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${baseUrl}/echo`, { method, headers, body });
  return { status: response.status, body: (await response.json()) as ResponseBody };
}

const json = { 'content-type': 'application/json' };

describe('jsonBody', () => {
  it('when a JSON object is posted, then the route receives it parsed', async () => {
    expect(await send('POST', '{"amount":5}', json)).toEqual({ status: 200, body: { body: { amount: 5 } } });
  });

  it('when the content type carries a charset, then it is still accepted', async () => {
    const response = await send('PATCH', '[1,2]', { 'content-type': 'application/json; charset=utf-8' });
    expect(response).toEqual({ status: 200, body: { body: [1, 2] } });
  });

  it('when the JSON is broken, then 400 MALFORMED_JSON with the request id comes back', async () => {
    const response = await send('POST', '{"amount":', { ...json, 'x-request-id': 'broken-json-1' });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: {
        code: 'MALFORMED_JSON',
        message: 'The request body is not valid JSON.',
        request_id: 'broken-json-1',
      },
    });
  });

  it('when the body is a bare JSON string, then strict parsing refuses it as MALFORMED_JSON', async () => {
    const response = await send('POST', '"just a string"', json);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('MALFORMED_JSON');
  });

  it('when the body exceeds the limit, then 413 PAYLOAD_TOO_LARGE', async () => {
    const response = await send('POST', JSON.stringify({ text: 'x'.repeat(limitBytes) }), json);
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('when a small gzip body inflates beyond the limit, then 413 PAYLOAD_TOO_LARGE', async () => {
    const compressed = gzipSync(JSON.stringify({ text: 'x'.repeat(limitBytes * 10) }));
    expect(compressed.length).toBeLessThan(limitBytes);
    const response = await send('POST', compressed, { ...json, 'content-encoding': 'gzip' });
    expect(response.status).toBe(413);
  });

  it('when a body is posted as text/plain, then 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const response = await send('POST', '{"amount":5}', { 'content-type': 'text/plain' });
    expect(response.status).toBe(415);
    expect(response.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('when a PUT body has no content type, then 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const response = await send('PUT', Buffer.from('{"a":1}'));
    expect(response.status).toBe(415);
  });

  it('when a chunked body is sent as form data, then 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/echo',
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.write('a=1');
      request.end('&b=2');
    });
    expect(status).toBe(415);
  });

  it('when the charset is not UTF-8, then 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const response = await send('POST', '{"a":1}', { 'content-type': 'application/json; charset=latin1' });
    expect(response.status).toBe(415);
  });

  it('when a POST has no body and no content type, then it passes through', async () => {
    expect(await send('POST', undefined)).toEqual({ status: 200, body: { body: null } });
  });

  it('when a GET carries no body, then it passes through', async () => {
    expect(await send('GET', undefined)).toEqual({ status: 200, body: { body: null } });
  });
});
