import type { NatsConnection } from '@nats-io/nats-core';
import { createLogger, Registry } from '@zerostate/observability';
import { metricTotal, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ConsumerDefinition, defineConsumer, startConsumers } from '../src/index.js';
import {
  appliedRows,
  deferred,
  type KitBus,
  type KitDatabase,
  publishEvent,
  startKitBus,
  uniqueToken,
} from './support.js';

const payload = z.object({ value: z.number().int() });

/** A consumer whose handler inserts one `applied` row per committed handling. */
function recordingConsumer(
  name: string,
  subject: string,
  beforeInsert: (value: number) => Promise<void> = async () => undefined,
): ConsumerDefinition<{ value: number }> {
  return defineConsumer({
    name,
    subject,
    schema: payload,
    async handle(event, { client }) {
      await beforeInsert(event.data.value);
      await client.query('INSERT INTO applied (event_id, consumer, value) VALUES ($1, $2, $3)', [
        event.id,
        name,
        event.data.value,
      ]);
    },
  });
}

describe('startConsumers delivery', () => {
  let kit: KitBus;
  let nc: NatsConnection;
  let database: KitDatabase;
  const logger = createLogger({ service: 'kittest', level: 'warn' });

  beforeAll(async () => {
    kit = await startKitBus('kit_consumers');
    ({ nc, database } = kit);
  });

  afterAll(async () => {
    await kit?.stop();
  });

  it('when the same event is stored twice under two message ids, then the handler applies it once and acks both', async () => {
    const name = uniqueToken('dup');
    const subject = `evt.kittest.${name}.happened`;
    const registry = new Registry();
    const eventId = await publishEvent(nc, { subject, data: { value: 1 }, messageId: 'first' });
    await publishEvent(nc, { subject, id: eventId, data: { value: 1 }, messageId: 'second' });

    const consumers = await startConsumers({
      nc,
      service: 'kittest',
      consumers: [recordingConsumer(name, subject)],
      pool: database.pool,
      logger,
      registry,
    });
    try {
      await waitUntil(
        'both deliveries to be settled',
        async () => metricTotal(await registry.metrics(), 'events_processed_total') === 2,
      );
    } finally {
      await consumers.stop();
    }

    expect(await appliedRows(database.pool, name)).toEqual([{ event_id: eventId, value: 1 }]);
    const metrics = await registry.metrics();
    expect(metrics).toContain(`events_processed_total{consumer="${name}",outcome="applied"} 1`);
    expect(metrics).toContain(`events_processed_total{consumer="${name}",outcome="duplicate"} 1`);
    const { rows } = await database.pool.query('SELECT event_id FROM processed_events WHERE consumer = $1', [
      `kittest_${name}`,
    ]);
    expect(rows).toEqual([{ event_id: eventId }]);
  });

  it('when consumers stop mid-stream and start again, then every one of 50 events is applied exactly once', async () => {
    const name = uniqueToken('restart');
    const subject = `evt.kittest.${name}.happened`;
    for (let value = 1; value <= 50; value += 1) await publishEvent(nc, { subject, data: { value } });
    const twentiethStarted = deferred();
    const releaseTwentieth = deferred();
    const holdTwentieth = async (value: number) => {
      if (value !== 20) return;
      twentiethStarted.resolve();
      await releaseTwentieth.promise;
    };
    // A short ack wait: messages pulled for the stopped subscription come back within a second.
    const start = (definition: ConsumerDefinition<{ value: number }>) =>
      startConsumers({
        nc,
        service: 'kittest',
        consumers: [definition],
        pool: database.pool,
        logger,
        registry: new Registry(),
        ackWaitMs: 1_000,
      });

    const first = await start(recordingConsumer(name, subject, holdTwentieth));
    await twentiethStarted.promise;
    let stopResolved = false;
    const stopping = first.stop().then(() => {
      stopResolved = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const resolvedWhileHandling = stopResolved;
    releaseTwentieth.resolve();
    await stopping;
    const appliedByFirst = await appliedRows(database.pool, name);

    const second = await start(recordingConsumer(name, subject));
    try {
      await waitUntil(
        'all 50 events to be applied',
        async () => (await appliedRows(database.pool, name)).length >= 50,
      );
    } finally {
      await second.stop();
    }

    expect(resolvedWhileHandling).toBe(false);
    // One at a time in stream order: the in-flight 20th finished, nothing after it started.
    expect(appliedByFirst.map((row) => row.value)).toEqual(
      Array.from({ length: 20 }, (_, index) => index + 1),
    );
    const applied = await appliedRows(database.pool, name);
    expect(applied.map((row) => row.value)).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
    expect(new Set(applied.map((row) => row.event_id)).size).toBe(50);
  });
});
