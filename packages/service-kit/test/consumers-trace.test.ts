import type { NatsConnection } from '@nats-io/nats-core';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { startOutboxRelay } from '@zerostate/bus';
import { defineEvent } from '@zerostate/contracts';
import { enqueueEvent, pgOutboxStore } from '@zerostate/database';
import {
  createLogger,
  currentRequestContext,
  Registry,
  runWithRequestContext,
} from '@zerostate/observability';
import { captureLines, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deliverBatch } from '../src/consumer-batch.js';
import { defineConsumer, startConsumers } from '../src/index.js';
import {
  deliveryContext,
  fetchMessages,
  type KitBus,
  type KitDatabase,
  publishEvent,
  startKitBus,
  uniqueToken,
} from './support.js';

interface Seen {
  traceId: string | undefined;
  requestId: string | undefined;
}

interface LogLine {
  message: string;
  request_id: string | null;
  trace_id: string | null;
}

// This file's worker owns the process-wide OpenTelemetry globals (provider, context, propagator).
describe('trace context from the outbox to a consumer', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let kit: KitBus;
  let nc: NatsConnection;
  let database: KitDatabase;
  const { destination, entries: logLines } = captureLines<LogLine>();
  const logger = createLogger({ service: 'kittest', destination });

  beforeAll(async () => {
    provider.register();
    kit = await startKitBus('kit_trace');
    ({ nc, database } = kit);
  });

  afterAll(async () => {
    await kit?.stop();
    await provider.shutdown();
  });

  it('when an event is enqueued inside a span and relayed, then the handler span is in the producer trace and sees the request id', async () => {
    const name = uniqueToken('traced');
    const event = defineEvent(`evt.kittest.${name}.happened`, z.object({ value: z.number() }));
    const seen: Seen[] = [];
    const consumers = await startConsumers({
      nc,
      service: 'kittest',
      consumers: [
        defineConsumer({
          name,
          subject: event.subject,
          async handle() {
            seen.push({
              traceId: trace.getActiveSpan()?.spanContext().traceId,
              requestId: currentRequestContext()?.requestId,
            });
          },
        }),
      ],
      pool: database.pool,
      logger,
      registry: new Registry(),
    });
    const relay = startOutboxRelay({ nc, store: pgOutboxStore(database.pool), logger, pollIntervalMs: 20 });
    let producerTraceId = '';
    let producerSpanId = '';
    try {
      await runWithRequestContext({ requestId: 'request-traced' }, () =>
        trace.getTracer('test').startActiveSpan('handle request', async (span) => {
          producerTraceId = span.spanContext().traceId;
          producerSpanId = span.spanContext().spanId;
          const client = await database.pool.connect();
          try {
            await client.query('BEGIN');
            await enqueueEvent(client, event, { value: 1 });
            await client.query('COMMIT');
          } finally {
            client.release();
            span.end();
          }
        }),
      );
      relay.kick();
      await waitUntil('the handler to run', async () => seen.length > 0);
    } finally {
      await relay.stop();
      await consumers.stop();
    }

    expect(seen).toEqual([{ traceId: producerTraceId, requestId: 'request-traced' }]);
    const spans = exporter.getFinishedSpans();
    const publish = spans.find((span) => span.name === `publish ${event.subject}`);
    const consume = spans.find((span) => span.name === `consume ${event.subject}`);
    expect(publish?.kind).toBe(SpanKind.PRODUCER);
    expect(publish?.spanContext().traceId).toBe(producerTraceId);
    expect(publish?.parentSpanContext?.spanId).toBe(producerSpanId);
    expect(consume?.kind).toBe(SpanKind.CONSUMER);
    expect(consume?.spanContext().traceId).toBe(producerTraceId);
    expect(consume?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    const handled = logLines.find((line) => line.message === 'event handled');
    expect(handled).toMatchObject({ request_id: 'request-traced', trace_id: producerTraceId });
  });
  it('when a batch consumer takes events of two traces together, then one batch span continues the first and links the second', async () => {
    const name = uniqueToken('traced-batch');
    const subject = `evt.kittest.${name}.happened`;
    const producers: { traceId: string; spanId: string }[] = [];
    for (const request of ['request-a', 'request-b']) {
      await trace.getTracer('test').startActiveSpan(`produce ${request}`, async (span) => {
        const headers: Record<string, string> = { 'zs-request-id': request };
        propagation.inject(context.active(), headers);
        producers.push({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
        await publishEvent(nc, { subject, data: { value: producers.length }, headers });
        span.end();
      });
    }
    const seen: (Seen & { count: number })[] = [];
    const definition = defineConsumer({
      name,
      subject,
      async handleBatch(events) {
        seen.push({
          count: events.length,
          traceId: trace.getActiveSpan()?.spanContext().traceId,
          requestId: currentRequestContext()?.requestId,
        });
      },
    });

    const messages = await fetchMessages(nc, name, subject, 2);
    await deliverBatch(
      deliveryContext(nc, database.pool, definition, { logger, registry: new Registry() }),
      messages,
    );

    const [first, second] = producers;
    expect(seen).toEqual([{ count: 2, traceId: first!.traceId, requestId: 'request-a' }]);
    const consume = exporter.getFinishedSpans().filter((span) => span.name === `consume ${subject}`);
    expect(consume).toHaveLength(1);
    expect(consume[0]!.kind).toBe(SpanKind.CONSUMER);
    expect(consume[0]!.attributes['messaging.batch.message_count']).toBe(2);
    expect(consume[0]!.parentSpanContext?.spanId).toBe(first!.spanId);
    expect(consume[0]!.links.map((link) => link.context.spanId)).toEqual([second!.spanId]);
    const handled = logLines.find((line) => line.message === 'event batch handled');
    expect(handled).toMatchObject({ request_id: 'request-a', trace_id: first!.traceId });
  });
});
