import { headers as createHeaders, type NatsConnection } from '@nats-io/nats-core';
import { trace } from '@opentelemetry/api';
import { defineEndpoint } from '@zerostate/contracts';
import { createLogger, createRegistry, isTracing, startTelemetry } from '@zerostate/observability';
import { startNatsServer } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  connectBus,
  decodeJson,
  encodeJson,
  endpoint,
  generateBusTrust,
  serveEndpoints,
} from '../src/index.js';

// This file's worker owns the process-wide OpenTelemetry globals: propagation only, no exporter.
const traced = defineEndpoint({
  service: 'bustrace',
  name: 'which-trace',
  request: z.strictObject({}),
  response: z.object({ trace_id: z.string().nullable() }),
  errors: [],
  timeoutMs: 2_000,
});

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

let server: Awaited<ReturnType<typeof startNatsServer>>;
let nc: NatsConnection;

beforeAll(async () => {
  await startTelemetry({ serviceName: 'bus-propagation' });
  server = await startNatsServer();
  nc = await connectBus({ servers: server.url, name: 'bus-trace-test' });
  await serveEndpoints(nc, {
    name: 'bustrace',
    version: '0.0.1',
    logger: createLogger({ service: 'bustrace', level: 'silent' }),
    registry: createRegistry('bustrace'),
    verifier: generateBusTrust('bustrace').verifier,
    registrations: [
      endpoint(traced, async () => ({
        trace_id: trace.getActiveSpan()?.spanContext().traceId ?? null,
      })),
    ],
  });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

async function ask(traceparent?: string): Promise<unknown> {
  const headers = createHeaders();
  if (traceparent) headers.set('traceparent', traceparent);
  const reply = await nc.request(traced.subject, encodeJson({}), { timeout: 2_000, headers });
  return decodeJson(reply.data);
}

describe('when tracing is not exported (propagation only)', () => {
  test('then no recording tracer is reported, so hot paths open no spans', () => {
    expect(isTracing()).toBe(false);
  });

  test('then a request carrying a traceparent is handled inside that trace', async () => {
    await expect(ask(`00-${traceId}-00f067aa0ba902b7-01`)).resolves.toEqual({
      ok: true,
      data: { trace_id: traceId },
    });
  });

  test('then a request without one is handled outside any trace', async () => {
    await expect(ask()).resolves.toEqual({ ok: true, data: { trace_id: null } });
  });
});
