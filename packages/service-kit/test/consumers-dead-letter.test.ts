import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { deadLetterStream, eventStream } from '@zerostate/bus';
import { createLogger, Registry } from '@zerostate/observability';
import { captureLines, metricTotal, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type ConsumerDefinition,
  deadLetterHeaderNames,
  defineConsumer,
  startConsumers,
} from '../src/index.js';
import {
  appliedRows,
  firstStoredMessage,
  type KitBus,
  type KitDatabase,
  publishEvent,
  startKitBus,
  uniqueToken,
} from './support.js';

interface LogLine {
  message: string;
  request_id: string | null;
  consumer?: string;
}

describe('startConsumers dead letters', () => {
  let kit: KitBus;
  let nc: NatsConnection;
  let database: KitDatabase;
  const { destination, entries: logLines } = captureLines<LogLine>();
  const logger = createLogger({ service: 'kittest', destination });

  beforeAll(async () => {
    kit = await startKitBus('kit_dead_letter');
    ({ nc, database } = kit);
  });

  afterAll(async () => {
    await kit?.stop();
  });

  /** Runs one consumer until it has dead-lettered one event, then stops it. */
  async function runUntilDeadLettered(
    definition: ConsumerDefinition<unknown>,
    registry: Registry,
    maxDeliveries: number,
  ): Promise<void> {
    const consumers = await startConsumers({
      nc,
      service: 'kittest',
      consumers: [definition],
      pool: database.pool,
      logger,
      registry,
      maxDeliveries,
      backoffMs: [20, 40],
    });
    try {
      await waitUntil(
        'the event to be dead-lettered',
        async () => metricTotal(await registry.metrics(), 'events_dead_lettered_total') >= 1,
      );
    } finally {
      await consumers.stop();
    }
  }

  it('when a handler always throws, then after maxDeliveries the event is in dlq.<service>.<consumer> with its headers and the error, and counted', async () => {
    const name = uniqueToken('broken');
    const subject = `evt.kittest.${name}.happened`;
    const registry = new Registry();
    let calls = 0;
    const broken = defineConsumer({
      name,
      subject,
      async handle(event, { client }) {
        calls += 1;
        await client.query('INSERT INTO applied (event_id, consumer, value) VALUES ($1, $2, 0)', [
          event.id,
          name,
        ]);
        throw new Error('always broken');
      },
    });
    const eventId = await publishEvent(nc, {
      subject,
      data: { value: 7 },
      headers: { 'zs-request-id': 'request-dead-letter' },
    });

    await runUntilDeadLettered(broken, registry, 3);

    const deadLetter = await firstStoredMessage(nc, deadLetterStream.name, `dlq.kittest.${name}`);
    expect(deadLetter.json()).toMatchObject({ id: eventId, type: subject, data: { value: 7 } });
    expect(deadLetter.headers?.get('zs-request-id')).toBe('request-dead-letter');
    expect(deadLetter.headers?.get(deadLetterHeaderNames.error)).toBe('Error: always broken');
    expect(deadLetter.headers?.get(deadLetterHeaderNames.reason)).toBe('handler_failed');
    expect(deadLetter.headers?.get(deadLetterHeaderNames.deliveries)).toBe('3');
    expect(deadLetter.headers?.get(deadLetterHeaderNames.eventId)).toBe(eventId);
    expect(deadLetter.headers?.get(deadLetterHeaderNames.subject)).toBe(subject);
    expect(calls).toBe(3);
    const metrics = await registry.metrics();
    expect(metrics).toContain(`events_dead_lettered_total{consumer="${name}"} 1`);
    expect(metrics).toContain(`events_failed_total{consumer="${name}"} 3`);
    // Every failed attempt rolled back, the processed id with it.
    expect(await appliedRows(database.pool, name)).toEqual([]);
    const recorded = await database.pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
      eventId,
    ]);
    expect(recorded.rowCount).toBe(0);
    // The term is fire-and-forget; once the server has it, nothing is pending or due again.
    const manager = await jetstreamManager(nc);
    await waitUntil(
      'the consumer to hold nothing pending',
      async () => {
        const info = await manager.consumers.info(eventStream.name, `kittest_${name}`);
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      10_000,
    );
    expect(calls).toBe(3);
    const deadLetteredLine = logLines.find(
      (line) => line.message === 'event dead-lettered' && line.consumer === name,
    );
    expect(deadLetteredLine?.request_id).toBe('request-dead-letter');
  });

  it('when the payload fails the schema, then the event is dead-lettered on its first delivery without calling the handler', async () => {
    const name = uniqueToken('invalid');
    const subject = `evt.kittest.${name}.happened`;
    const registry = new Registry();
    let calls = 0;
    const strict = defineConsumer({
      name,
      subject,
      schema: z.object({ value: z.number() }),
      async handle() {
        calls += 1;
      },
    });
    await publishEvent(nc, { subject, data: { value: 'seven' } });

    await runUntilDeadLettered(strict as ConsumerDefinition<unknown>, registry, 5);

    const deadLetter = await firstStoredMessage(nc, deadLetterStream.name, `dlq.kittest.${name}`);
    expect(deadLetter.headers?.get(deadLetterHeaderNames.reason)).toBe('invalid');
    expect(deadLetter.headers?.get(deadLetterHeaderNames.deliveries)).toBe('1');
    expect(deadLetter.headers?.get(deadLetterHeaderNames.error)).toMatch(/payload fails the schema/);
    expect(calls).toBe(0);
    expect(await registry.metrics()).toContain(`events_failed_total{consumer="${name}"} 0`);
  });

  it('when a handler swallows a failed statement, then the aborted transaction counts as a failure, not a success', async () => {
    const name = uniqueToken('swallow');
    const subject = `evt.kittest.${name}.happened`;
    const registry = new Registry();
    const swallowing = defineConsumer({
      name,
      subject,
      async handle(event, { client }) {
        await client.query('SELECT * FROM no_such_table').catch(() => undefined);
        await client
          .query('INSERT INTO applied (event_id, consumer, value) VALUES ($1, $2, 0)', [event.id, name])
          .catch(() => undefined);
      },
    });
    const eventId = await publishEvent(nc, { subject, data: {} });

    await runUntilDeadLettered(swallowing, registry, 2);

    const deadLetter = await firstStoredMessage(nc, deadLetterStream.name, `dlq.kittest.${name}`);
    expect(deadLetter.headers?.get(deadLetterHeaderNames.error)).toMatch(/left its transaction aborted/);
    expect(metricTotal(await registry.metrics(), 'events_processed_total')).toBe(0);
    const recorded = await database.pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
      eventId,
    ]);
    expect(recorded.rowCount).toBe(0);
  });
});
