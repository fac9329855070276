import type { AddressInfo } from 'node:net';
import { currentRequestContext } from '@zerostate/observability';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonBody, requestId } from '../src/middleware/index.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function buildApp() {
  const app = express();
  app.use(requestId());
  app.use(jsonBody({ limitBytes: 1024 }));
  const describeContext = (response: express.Response) => {
    const context = currentRequestContext();
    return {
      locals_request_id: response.locals.requestId,
      context_request_id: context?.requestId ?? null,
      same_context_object: context !== undefined && context === response.locals.requestContext,
    };
  };
  app.get('/context', (_request, response) => {
    response.json(describeContext(response));
  });
  app.post('/context', async (_request, response) => {
    // An await between parsing and answering must not lose the request context either.
    await new Promise((resolve) => setImmediate(resolve));
    response.json(describeContext(response));
  });
  return app;
}

let baseUrl = '';
let server: ReturnType<ReturnType<typeof express>['listen']>;

beforeAll(async () => {
  server = buildApp().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function getContext(headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/context`, { headers });
  return {
    header: response.headers.get('x-request-id'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe('requestId', () => {
  it('when no X-Request-Id is sent, then a UUID is generated, echoed and put in locals and context', async () => {
    const { header, body } = await getContext();
    expect(header).toMatch(uuidPattern);
    expect(body).toEqual({
      locals_request_id: header,
      context_request_id: header,
      same_context_object: true,
    });
  });

  it('when a well-formed X-Request-Id is sent, then it is kept', async () => {
    const incoming = 'client-1.trace:42_A';
    const { header, body } = await getContext({ 'X-Request-Id': incoming });
    expect(header).toBe(incoming);
    expect(body.context_request_id).toBe(incoming);
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['with a slash', 'abc/def'],
    ['with a space', 'abc def'],
    ['with a quote', 'abc"def'],
  ])('when the incoming id is %s, then a fresh UUID replaces it', async (_case, incoming) => {
    const { header, body } = await getContext({ 'X-Request-Id': incoming });
    expect(header).toMatch(uuidPattern);
    expect(body.locals_request_id).toBe(header);
  });

  it('when the id is exactly 128 allowed characters, then it is kept', async () => {
    const incoming = 'A'.repeat(128);
    expect((await getContext({ 'X-Request-Id': incoming })).header).toBe(incoming);
  });

  it('when a JSON body is parsed, then the handler still runs inside the request context', async () => {
    const response = await fetch(`${baseUrl}/context`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'body-context-check' },
      body: JSON.stringify({ padding: 'x'.repeat(500) }),
    });
    expect(await response.json()).toEqual({
      locals_request_id: 'body-context-check',
      context_request_id: 'body-context-check',
      same_context_object: true,
    });
  });
});
