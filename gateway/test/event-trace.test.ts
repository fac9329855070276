import { connectBus, type NatsConnection } from '@zerostate/bus';
import { paymentEvents } from '@zerostate/contracts';
import { createLogger, createRegistry, startTelemetry, type Telemetry } from '@zerostate/observability';
import { defineConsumer, type RunningConsumers, startConsumers } from '@zerostate/service-kit';
import {
  type OtlpReceiver,
  type RunningStack,
  startOtlpReceiver,
  startStack,
  waitUntil,
} from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';

/**
 * One saga is one trace: an HTTP deposit, the `evt.payment.deposit.completed` event the payment
 * service publishes from its outbox, and a consumer's handling of it (here a consumer in this
 * test process, exporting to the same OTLP receiver) are spans of one trace.
 */
describe('when a deposit made over HTTP is consumed as an event', () => {
  let receiver: OtlpReceiver;
  let telemetry: Telemetry;
  let system: RunningStack;
  let nc: NatsConnection;
  let pool: pg.Pool;
  let consumers: RunningConsumers;
  const handled: { id: string; transferId: string }[] = [];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    // This file's process exports its own spans as the consumer side of the saga.
    telemetry = await startTelemetry({
      serviceName: 'saga-probe',
      endpoint: receiver.endpoint,
      instrument: { http: false, express: false, ioredis: false, pg: false },
    });
    system = await startStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } });
    nc = await connectBus({ servers: system.natsUrl, name: 'saga-probe' });
    // The consumer's processed ids go to a kit table; the payment database has one.
    pool = new pg.Pool({ connectionString: system.services['payment-channel']!.databaseUrl, max: 2 });
    // Dropping the database after end() may kill idle sockets; that must not fail the run.
    pool.on('error', () => undefined);
    consumers = await startConsumers({
      nc,
      service: 'saga-probe',
      consumers: [
        defineConsumer({
          name: 'deposit-seen',
          subject: paymentEvents.depositCompleted.subject,
          schema: paymentEvents.depositCompleted.payload,
          handle: async (event) => {
            handled.push({ id: event.id, transferId: event.data.transfer_id });
          },
        }),
      ],
      pool,
      logger: createLogger({ service: 'saga-probe', level: 'silent' }),
      registry: createRegistry('saga-probe'),
    });
  });

  afterAll(async () => {
    await consumers?.stop();
    await nc?.drain();
    await pool?.end();
    await system?.stop();
    await telemetry?.shutdown();
    await receiver?.close();
  });

  test('then the gateway, payment handler, event publish and consumer spans share one trace id', async () => {
    const email = `saga.${Date.now()}@example.com`;
    const password = 'correct horse battery staple';
    expect(
      (await call(system.baseUrl, 'POST', '/api/v1/auth/register', { body: { email, password } })).status,
    ).toBe(201);
    const login = await call(system.baseUrl, 'POST', '/api/v1/auth/login', { body: { email, password } });
    const deposit = await call(system.baseUrl, 'POST', '/api/v1/payments/deposit', {
      token: String(login.body.access_token),
      body: { amount: 3 },
    });
    expect(deposit.status).toBe(201);
    const transferId = String(deposit.body.transfer_id);
    await waitUntil('the consumer to handle the deposit', async () =>
      handled.some((event) => event.transferId === transferId),
    );

    const isConsumer = (span: { serviceName?: string | undefined; name: string }) =>
      span.serviceName === 'saga-probe' && span.name === `consume ${paymentEvents.depositCompleted.subject}`;
    const spans = await receiver.waitForSpans((received) => {
      const consumed = received.filter(isConsumer);
      return consumed.some((span) =>
        received.some((other) => other.serviceName === 'gateway' && other.traceId === span.traceId),
      );
    }, 20_000);
    const consumed = spans
      .filter(isConsumer)
      .find((span) =>
        spans.some((other) => other.serviceName === 'gateway' && other.traceId === span.traceId),
      )!;
    const saga = spans.filter((span) => span.traceId === consumed.traceId);

    // The gateway may also ask auth for its signing keys within the same request.
    expect([...new Set(saga.map((span) => span.serviceName))]).toEqual(
      expect.arrayContaining(['gateway', 'payment-channel', 'saga-probe']),
    );
    expect(
      saga.some(
        (span) => span.serviceName === 'payment-channel' && span.name.includes('svc.payment.deposit'),
      ),
    ).toBe(true);
    expect(
      saga.some(
        (span) =>
          span.serviceName === 'payment-channel' &&
          span.name === `publish ${paymentEvents.depositCompleted.subject}`,
      ),
    ).toBe(true);
    // Only the gateway's HTTP span starts the trace; every other span has a parent in it.
    expect(saga.filter((span) => !span.parentSpanId).map((span) => span.serviceName)).toEqual(['gateway']);
  });
});
