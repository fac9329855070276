import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { deadLetterStream, eventStream } from '@zerostate/bus';
import { createLogger, Registry } from '@zerostate/observability';
import { captureLines, metricTotal, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deliverBatch } from '../src/consumer-batch.js';
import {
  type ConsumedEvent,
  type ConsumerDefinition,
  deadLetterHeaderNames,
  defineConsumer,
  type StartConsumersOptions,
  startConsumers,
} from '../src/index.js';
import {
  appliedRows,
  deferred,
  deliveryContext,
  fetchMessages,
  firstStoredMessage,
  type KitBus,
  type KitDatabase,
  publishEvent,
  startKitBus,
  uniqueToken,
} from './support.js';

const payload = z.object({ value: z.number().int() });
type Payload = z.infer<typeof payload>;

/**
 * A batch consumer whose handler inserts one `applied` row per event in one statement and
 * records every batch it was given (the event ids and values, in order).
 */
function batchConsumer(
  name: string,
  subject: string,
  options: {
    batches?: ConsumedEvent<Payload>[][];
    beforeInsert?: (events: ConsumedEvent<Payload>[]) => Promise<void>;
    batchLingerMs?: number;
  } = {},
): ConsumerDefinition<Payload> {
  return defineConsumer({
    name,
    subject,
    schema: payload,
    ...(options.batchLingerMs === undefined ? {} : { batchLingerMs: options.batchLingerMs }),
    async handleBatch(events, { client }) {
      options.batches?.push(events);
      await options.beforeInsert?.(events);
      await client.query(
        `INSERT INTO applied (event_id, consumer, value)
         SELECT id, $2, value FROM unnest($1::uuid[], $3::int[]) AS e(id, value)`,
        [events.map((event) => event.id), name, events.map((event) => event.data.value)],
      );
    },
  });
}

interface LogLine {
  message: string;
  consumer?: string;
  batch_size?: number;
  applied?: number;
  duplicate?: number;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe('startConsumers with a batch consumer', () => {
  let kit: KitBus;
  let nc: NatsConnection;
  let database: KitDatabase;
  const { destination, entries: logLines } = captureLines<LogLine>();
  const logger = createLogger({ service: 'kittest', destination });

  beforeAll(async () => {
    kit = await startKitBus('kit_consumers_batch');
    ({ nc, database } = kit);
  });

  afterAll(async () => {
    await kit?.stop();
  });

  /**
   * Resolves once JetStream has delivered at least `count` unacked messages of the consumer. Its
   * answer comes on the connection after those messages, so by then the client has them buffered.
   */
  /** Starts the kit's consumers on the test bus with one definition; `options` adds or overrides. */
  const startOne = (definition: ConsumerDefinition<Payload>, options: Partial<StartConsumersOptions> = {}) =>
    startConsumers({
      nc,
      service: 'kittest',
      consumers: [definition],
      pool: database.pool,
      logger,
      registry: new Registry(),
      ...options,
    });

  async function deliveredUnacked(durable: string, count: number): Promise<void> {
    const manager = await jetstreamManager(nc);
    await waitUntil(`${count} messages to be delivered to ${durable}`, async () => {
      const info = await manager.consumers.info(eventStream.name, durable);
      return info.num_ack_pending >= count;
    });
  }

  it('defineConsumer takes exactly one of handle and handleBatch, and a batchMax from 1 to 500', () => {
    const base = { name: 'shape', subject: 'evt.kittest.shape.happened' };
    const handle = async () => undefined;
    expect(() => defineConsumer(base)).toThrow(/exactly one of handle and handleBatch/);
    expect(() => defineConsumer({ ...base, handle, handleBatch: handle })).toThrow(/exactly one/);
    expect(() => defineConsumer({ ...base, handleBatch: handle, batchMax: 0 })).toThrow(/batchMax/);
    expect(() => defineConsumer({ ...base, handleBatch: handle, batchMax: 501 })).toThrow(/batchMax/);
    expect(() => defineConsumer({ ...base, handle, batchMax: 10 })).toThrow(
      /batchMax and batchLingerMs need handleBatch/,
    );
    expect(defineConsumer({ ...base, handleBatch: handle }).batchMax).toBe(100);
    expect(defineConsumer({ ...base, handleBatch: handle, batchMax: 500 }).batchMax).toBe(500);
    expect(defineConsumer({ ...base, handleBatch: handle }).batchLingerMs).toBe(10);
    expect(() => defineConsumer({ ...base, handleBatch: handle, batchLingerMs: -1 })).toThrow(
      /batchLingerMs/,
    );
    expect(() => defineConsumer({ ...base, handleBatch: handle, batchLingerMs: 1_001 })).toThrow(
      /batchLingerMs/,
    );
    expect(() => defineConsumer({ ...base, handle, batchLingerMs: 5 })).toThrow(/need handleBatch/);
  });

  it.each([
    // No linger: the first event's batch is done (applied) before the second is published.
    { lingerMs: 0, batchSizes: [1, 1], firstEvent: 'applied' },
    // A long linger: the second is published while the first is held (delivered, not acked).
    { lingerMs: 800, batchSizes: [2], firstEvent: 'delivered' },
  ] as const)(
    'when a second event comes after the first is $firstEvent and the batch lingers $lingerMs ms, then the batches are $batchSizes',
    async ({ lingerMs, batchSizes, firstEvent }) => {
      const name = uniqueToken('linger');
      const subject = `evt.kittest.${name}.happened`;
      const batches: ConsumedEvent<Payload>[][] = [];
      const consumers = await startOne(batchConsumer(name, subject, { batches, batchLingerMs: lingerMs }));
      const applied = (count: number) => async () =>
        (await appliedRows(database.pool, name)).length === count;
      try {
        await publishEvent(nc, { subject, data: { value: 1 } });
        if (firstEvent === 'applied') await waitUntil('the first event to be applied', applied(1));
        else await deliveredUnacked(`kittest_${name}`, 1);
        await publishEvent(nc, { subject, data: { value: 2 } });
        await waitUntil('both events to be applied', applied(2));
      } finally {
        await consumers.stop();
      }
      expect(batches.map((batch) => batch.length)).toEqual(batchSizes);
    },
  );

  it('when 200 events arrive quickly, then they are applied in batches, each exactly once, and duplicate ids are acked without being applied', async () => {
    const name = uniqueToken('batch');
    const subject = `evt.kittest.${name}.happened`;
    const registry = new Registry();
    const batches: ConsumedEvent<Payload>[][] = [];
    // The first batch waits until more messages are buffered, so a later batch surely holds several.
    const durable = `kittest_${name}`;
    let firstHeld = false;
    const holdFirst = async () => {
      if (firstHeld) return;
      firstHeld = true;
      await deliveredUnacked(durable, 10);
    };
    const consumers = await startOne(batchConsumer(name, subject, { batches, beforeInsert: holdFirst }), {
      registry,
    });
    const ids: string[] = [];
    try {
      // Published concurrently, ten at a time; value 7 is stored twice under two message ids.
      for (let from = 1; from <= 200; from += 10) {
        ids.push(
          ...(await Promise.all(
            range(from, from + 9).map((value) => publishEvent(nc, { subject, data: { value } })),
          )),
        );
        if (from === 1) {
          await publishEvent(nc, { subject, id: ids[6]!, data: { value: 7 }, messageId: `${name}-again` });
        }
      }
      await waitUntil(
        'all 201 deliveries to be settled',
        async () => metricTotal(await registry.metrics(), 'events_processed_total') === 201,
      );
      // A redelivery of an event applied long ago: acked as a duplicate, not applied.
      await publishEvent(nc, { subject, id: ids[99]!, data: { value: 100 }, messageId: `${name}-later` });
      await waitUntil(
        'the late duplicate to be settled',
        async () => metricTotal(await registry.metrics(), 'events_processed_total') === 202,
      );
    } finally {
      await consumers.stop();
    }

    const applied = await appliedRows(database.pool, name);
    expect(applied.map((row) => row.value)).toEqual(range(1, 200));
    expect(new Set(applied.map((row) => row.event_id))).toEqual(new Set(ids));
    const handled = batches.flat().map((event) => event.id);
    expect(handled.length).toBe(200);
    expect(new Set(handled).size).toBe(200);
    expect(Math.max(...batches.map((batch) => batch.length))).toBeGreaterThan(1);
    // One line per batch, with its size and what became of its events.
    const batchLines = logLines.filter(
      (line) => line.message === 'event batch handled' && line.consumer === name,
    );
    expect(batchLines.length).toBeGreaterThan(0);
    for (const line of batchLines) expect(line.applied! + line.duplicate!).toBe(line.batch_size);
    const metrics = await registry.metrics();
    expect(metrics).toContain(`events_processed_total{consumer="${name}",outcome="applied"} 200`);
    expect(metrics).toContain(`events_processed_total{consumer="${name}",outcome="duplicate"} 2`);
    expect(metrics).toContain(`events_failed_total{consumer="${name}"} 0`);
    const recorded = await database.pool.query(
      'SELECT count(*)::int AS n FROM processed_events WHERE consumer = $1',
      [durable],
    );
    expect(recorded.rows[0].n).toBe(200);
  });

  it('when one event of a batch makes the handler throw, then the others are applied and it alone is retried and dead-lettered', async () => {
    const name = uniqueToken('poison');
    const subject = `evt.kittest.${name}.happened`;
    const registry = new Registry();
    const ids: string[] = [];
    for (let value = 1; value <= 30; value += 1)
      ids.push(await publishEvent(nc, { subject, data: { value } }));
    const poisoned = ids[12]!;
    const batches: ConsumedEvent<Payload>[][] = [];
    const durable = `kittest_${name}`;
    let firstHeld = false;
    const consumer = batchConsumer(name, subject, {
      batches,
      async beforeInsert(events) {
        if (!firstHeld) {
          firstHeld = true;
          await deliveredUnacked(durable, 30);
        }
        if (events.some((event) => event.id === poisoned)) throw new Error('poisoned event');
      },
    });

    const consumers = await startOne(consumer, { registry, maxDeliveries: 3, backoffMs: [20, 40] });
    try {
      await waitUntil(
        'the poisoned event to be dead-lettered',
        async () => metricTotal(await registry.metrics(), 'events_dead_lettered_total') >= 1,
      );
      await waitUntil(
        'the other 29 to be applied',
        async () => (await appliedRows(database.pool, name)).length >= 29,
      );
    } finally {
      await consumers.stop();
    }

    const applied = await appliedRows(database.pool, name);
    expect(applied.map((row) => row.value)).toEqual(range(1, 30).filter((value) => value !== 13));
    // It failed inside a batch of several, then on its own on each of its three deliveries.
    const withPoison = batches.filter((batch) => batch.some((event) => event.id === poisoned));
    expect(withPoison[0]!.length).toBeGreaterThan(1);
    expect(withPoison.slice(1).map((batch) => batch.length)).toEqual([1, 1, 1]);
    const deadLetter = await firstStoredMessage(nc, deadLetterStream.name, `dlq.kittest.${name}`);
    expect(deadLetter.json()).toMatchObject({ id: poisoned, data: { value: 13 } });
    expect(deadLetter.headers?.get(deadLetterHeaderNames.reason)).toBe('handler_failed');
    expect(deadLetter.headers?.get(deadLetterHeaderNames.error)).toBe('Error: poisoned event');
    expect(deadLetter.headers?.get(deadLetterHeaderNames.deliveries)).toBe('3');
    const metrics = await registry.metrics();
    expect(metrics).toContain(`events_processed_total{consumer="${name}",outcome="applied"} 29`);
    expect(metrics).toContain(`events_failed_total{consumer="${name}"} 3`);
    expect(metrics).toContain(`events_dead_lettered_total{consumer="${name}"} 1`);
    const recorded = await database.pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
      poisoned,
    ]);
    expect(recorded.rowCount).toBe(0);
  });

  it('when an event of a batch is invalid, then it alone is dead-lettered and the rest are applied together', async () => {
    const name = uniqueToken('mixed');
    const subject = `evt.kittest.${name}.happened`;
    const registry = new Registry();
    for (let value = 1; value <= 10; value += 1) {
      await publishEvent(nc, { subject, data: value === 4 ? { value: 'four' } : { value } });
    }
    const batches: ConsumedEvent<Payload>[][] = [];
    const durable = `kittest_${name}`;
    let firstHeld = false;
    const consumers = await startOne(
      batchConsumer(name, subject, {
        batches,
        async beforeInsert() {
          if (firstHeld) return;
          firstHeld = true;
          await deliveredUnacked(durable, 10);
        },
      }),
      { registry },
    );
    try {
      await waitUntil(
        'nine events applied and one dead-lettered',
        async () =>
          metricTotal(await registry.metrics(), 'events_processed_total') === 9 &&
          metricTotal(await registry.metrics(), 'events_dead_lettered_total') === 1,
      );
    } finally {
      await consumers.stop();
    }

    expect((await appliedRows(database.pool, name)).map((row) => row.value)).toEqual([
      1, 2, 3, 5, 6, 7, 8, 9, 10,
    ]);
    expect(Math.max(...batches.map((batch) => batch.length))).toBeGreaterThan(1);
    const deadLetter = await firstStoredMessage(nc, deadLetterStream.name, `dlq.kittest.${name}`);
    expect(deadLetter.headers?.get(deadLetterHeaderNames.reason)).toBe('invalid');
    expect(await registry.metrics()).toContain(`events_failed_total{consumer="${name}"} 0`);
  });

  it('when one batch holds an event id twice (in upper and lower case), then the handler gets it once and every message is acked', async () => {
    const name = uniqueToken('same-batch');
    const subject = `evt.kittest.${name}.happened`;
    const durable = `kittest_${name}`;
    const registry = new Registry();
    const repeated = randomUUID();
    const other = await publishEvent(nc, { subject, data: { value: 1 } });
    await publishEvent(nc, { subject, id: repeated.toUpperCase(), data: { value: 2 } });
    await publishEvent(nc, { subject, id: repeated, data: { value: 2 }, messageId: `${name}-again` });
    // The three messages fetched at once and delivered as one batch, as the consume loop would.
    const messages = await fetchMessages(nc, name, subject, 3);
    const batches: ConsumedEvent<Payload>[][] = [];
    await deliverBatch(
      deliveryContext(nc, database.pool, batchConsumer(name, subject, { batches }), { logger, registry }),
      messages,
    );

    expect(batches.map((batch) => batch.map((event) => event.id))).toEqual([[other, repeated.toUpperCase()]]);
    expect((await appliedRows(database.pool, name)).map((row) => row.event_id)).toEqual([other, repeated]);
    const metrics = await registry.metrics();
    expect(metrics).toContain(`events_processed_total{consumer="${name}",outcome="applied"} 2`);
    expect(metrics).toContain(`events_processed_total{consumer="${name}",outcome="duplicate"} 1`);
    const manager = await jetstreamManager(nc);
    await waitUntil('every message to be acked', async () => {
      const info = await manager.consumers.info(eventStream.name, durable);
      return info.num_ack_pending === 0 && info.num_pending === 0;
    });
  });

  it('when a batch consumer stops mid-stream and starts again, then every event published before and after is applied exactly once', async () => {
    const name = uniqueToken('batch-restart');
    const subject = `evt.kittest.${name}.happened`;
    for (let value = 1; value <= 60; value += 1) await publishEvent(nc, { subject, data: { value } });
    const heldStarted = deferred<number[]>();
    const releaseHeld = deferred();
    // Holds the batch that holds the 20th event, with the consumer's stop called meanwhile.
    const holdTwentieth = async (events: ConsumedEvent<Payload>[]) => {
      if (!events.some((event) => event.data.value === 20)) return;
      heldStarted.resolve(events.map((event) => event.data.value));
      await releaseHeld.promise;
    };
    // A short ack wait: messages pulled for the stopped subscription come back within a second.
    const start = (definition: ConsumerDefinition<Payload>) => startOne(definition, { ackWaitMs: 1_000 });

    const first = await start(batchConsumer(name, subject, { beforeInsert: holdTwentieth }));
    const held = await heldStarted.promise;
    let stopResolved = false;
    const stopping = first.stop().then(() => {
      stopResolved = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const resolvedWhileHandling = stopResolved;
    releaseHeld.resolve();
    await stopping;
    const appliedByFirst = await appliedRows(database.pool, name);
    for (let value = 61; value <= 100; value += 1) await publishEvent(nc, { subject, data: { value } });

    const second = await start(batchConsumer(name, subject));
    try {
      await waitUntil(
        'all 100 events to be applied',
        async () => (await appliedRows(database.pool, name)).length >= 100,
      );
    } finally {
      await second.stop();
    }

    expect(resolvedWhileHandling).toBe(false);
    // In stream order: the in-flight batch finished, nothing after it started.
    expect(appliedByFirst.map((row) => row.value)).toEqual(range(1, Math.max(...held)));
    const applied = await appliedRows(database.pool, name);
    expect(applied.map((row) => row.value)).toEqual(range(1, 100));
    expect(new Set(applied.map((row) => row.event_id)).size).toBe(100);
  });
});
