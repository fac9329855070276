import { randomUUID } from 'node:crypto';
import { headers as createHeaders, type NatsConnection } from '@nats-io/nats-core';
import { defineEndpoint } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { createLogger, createRegistry } from '@zerostate/observability';
import { captureLines, startNatsServer } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  connectBus,
  decodeJson,
  encodeJson,
  endpoint,
  generateBusTrust,
  type HandlerContext,
  request,
  serveEndpoints,
} from '../src/index.js';

const echo = defineEndpoint({
  service: 'bustest',
  name: 'echo',
  request: z.strictObject({ text: z.string().max(10) }),
  response: z.object({ text: z.string(), request_id: z.string(), user_id: z.string().nullable() }),
  errors: ['VALIDATION_FAILED'],
  timeoutMs: 2_000,
});
const fail = defineEndpoint({
  service: 'bustest',
  name: 'fail',
  request: z.strictObject({ kind: z.enum(['app', 'crash', 'parse']) }),
  response: z.object({}),
  errors: ['CONFLICT'],
  timeoutMs: 2_000,
});
const slow = defineEndpoint({
  service: 'bustest',
  name: 'slow',
  request: z.strictObject({}),
  response: z.object({}),
  errors: [],
  timeoutMs: 200,
});
const nobody = defineEndpoint({
  service: 'bustest',
  name: 'nobody-listens',
  request: z.strictObject({}),
  response: z.object({}),
  errors: [],
  timeoutMs: 2_000,
});

let server: Awaited<ReturnType<typeof startNatsServer>>;
let nc: NatsConnection;
const { destination, entries: logEntries } = captureLines<Record<string, unknown>>();
let slowCalls = 0;
const trust = generateBusTrust('bustest');

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectBus({ servers: server.url, name: 'bus-test' });
  await serveEndpoints(nc, {
    name: 'bustest',
    version: '0.0.1',
    logger: createLogger({ service: 'bustest', destination }),
    registry: createRegistry('bustest'),
    verifier: trust.verifier,
    registrations: [
      endpoint(echo, async (input, context: HandlerContext) => ({
        text: input.text,
        request_id: context.requestId,
        user_id: context.principal?.user_id ?? null,
      })),
      endpoint(fail, async (input) => {
        if (input.kind === 'app') throw new AppError('CONFLICT', 'already done');
        if (input.kind === 'parse') return JSON.parse('{broken');
        throw new Error('database password is hunter2');
      }),
      endpoint(slow, async () => {
        slowCalls += 1;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        return {};
      }),
    ],
  });
});
afterAll(async () => {
  await nc?.drain();
  await server?.stop();
});

describe('when a service is called through a contract', () => {
  test('then the reply is validated and carries the request id and principal from the headers', async () => {
    const principal = {
      kind: 'user' as const,
      user_id: randomUUID(),
      did: 'did:zerostate:user:x',
      roles: ['user' as const],
      is_system: false,
    };
    const reply = await request(
      nc,
      echo,
      { text: 'hi' },
      { requestId: 'req-1', principal },
      { signer: trust.signer },
    );
    expect(reply).toEqual({ text: 'hi', request_id: 'req-1', user_id: principal.user_id });
  });

  test('then invalid input comes back as VALIDATION_FAILED with the failing path', async () => {
    const error = await request(nc, echo, { text: 'far too long text' }, { requestId: 'req-2' }).catch(
      (caught) => caught,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(error.details)).toContain('text');
  });

  test('then an AppError keeps its code and message, and a crash becomes INTERNAL without its message', async () => {
    const conflict = await request(nc, fail, { kind: 'app' }, { requestId: 'req-3' }).catch(
      (caught) => caught,
    );
    expect(conflict.code).toBe('CONFLICT');
    expect(conflict.message).toBe('already done');
    const crash = await request(nc, fail, { kind: 'crash' }, { requestId: 'req-4' }).catch(
      (caught) => caught,
    );
    expect(crash.code).toBe('INTERNAL');
    expect(crash.message).not.toContain('hunter2');
    const bug = await request(nc, fail, { kind: 'parse' }, { requestId: 'req-4b' }).catch((caught) => caught);
    expect(bug.code).toBe('INTERNAL');
  });

  test('then no responders is SERVICE_UNAVAILABLE at once and a slow handler is UPSTREAM_TIMEOUT', async () => {
    const unavailable = await request(nc, nobody, {}, { requestId: 'req-5' }).catch((caught) => caught);
    expect(unavailable.code).toBe('SERVICE_UNAVAILABLE');
    const timeout = await request(nc, slow, {}, { requestId: 'req-6' }).catch((caught) => caught);
    expect(timeout.code).toBe('UPSTREAM_TIMEOUT');
    expect(slowCalls).toBe(1);
  });

  test('then a hand-written principal header is refused, not trusted and not dropped', async () => {
    const headers = createHeaders();
    headers.set('zs-request-id', 'req-7');
    headers.set(
      'zs-principal',
      JSON.stringify({ kind: 'user', user_id: 'not-a-uuid', roles: ['admin'], is_system: true }),
    );
    const reply = await nc.request(echo.subject, encodeJson({ text: 'x' }), { headers, timeout: 2_000 });
    expect(decodeJson(reply.data)).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
  });

  test('then a body that is not JSON gets MALFORMED_JSON, and every reply is one message', async () => {
    const reply = await nc.request(echo.subject, new TextEncoder().encode('{nope'), { timeout: 2_000 });
    expect(decodeJson(reply.data)).toMatchObject({ ok: false, error: { code: 'MALFORMED_JSON' } });
  });

  test('then each handled message writes one JSON log line with its request id, outcome and duration', () => {
    const handled = logEntries.filter((entry) => entry.message === 'handled');
    const first = handled.find((entry) => entry.request_id === 'req-1');
    expect(first).toMatchObject({ service: 'bustest', status: 'ok', action: 'echo' });
    expect(typeof first?.duration_ms).toBe('number');
    expect(handled.find((entry) => entry.request_id === 'req-3')).toMatchObject({ status: 'CONFLICT' });
  });

  test('then the service answers the NATS micro-service PING', async () => {
    const reply = await nc.request('$SRV.PING.bustest', undefined, { timeout: 1_000 });
    expect(decodeJson(reply.data)).toMatchObject({ name: 'bustest', type: 'io.nats.micro.v1.ping_response' });
  });
});
