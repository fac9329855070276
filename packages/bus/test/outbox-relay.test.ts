import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { OutboxRow, OutboxStore } from '@zerostate/contracts';
import { createLogger, Registry } from '@zerostate/observability';
import { captureLines, startNatsServer, type TestServer, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxRetryDelayMs } from '../src/events.js';
import { connectBus, ensureEventStream, eventStream, startOutboxRelay } from '../src/index.js';

/**
 * An outbox kept in memory with the contract `pgOutboxStore` honours: rows are offered oldest
 * first and stay unpublished when publishing fails. (@zerostate/database, which has the Postgres
 * store, builds on this package, so its tests cover that store against Postgres.)
 */
function memoryOutbox(): OutboxStore & {
  add(subject: string, headers?: Record<string, string>): string;
  unpublished(): number;
} {
  const rows: { row: OutboxRow; published: boolean }[] = [];
  return {
    add(subject, headers = {}) {
      const id = randomUUID();
      rows.push({ row: { id, subject, payload: {}, occurredAt: new Date(), headers }, published: false });
      return id;
    },
    unpublished: () => rows.filter((entry) => !entry.published).length,
    async relayBatch(limit, publish) {
      const batch = rows.filter((entry) => !entry.published).slice(0, limit);
      for (const entry of batch) await publish(entry.row);
      for (const entry of batch) entry.published = true;
      return batch.length;
    },
  };
}

interface RetryLine {
  message: string;
  retry_in_ms: number;
  consecutive_failures: number;
}

describe('startOutboxRelay', () => {
  let server: TestServer;
  let nc: NatsConnection;
  const { destination, entries: logLines } = captureLines<RetryLine>();
  const retries = () => logLines.filter((line) => line.message.startsWith('outbox relay batch failed'));

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectBus({ servers: server.url, name: 'outbox-relay-test' });
  });

  afterAll(async () => {
    await nc?.drain();
    await server?.stop();
  });

  it('when publishing keeps failing, then retries back off exponentially, and after a success the backoff resets', async () => {
    const pollIntervalMs = 10;
    const registry = new Registry();
    const store = memoryOutbox();
    for (let index = 0; index < 3; index += 1) store.add('evt.relaytest.thing.happened');
    // No stream captures evt.> yet, so every JetStream publish fails (no responders).
    const relay = startOutboxRelay({
      nc,
      store,
      logger: createLogger({ service: 'relaytest', destination }),
      pollIntervalMs,
      registry,
    });
    try {
      await waitUntil('five failed batches', async () => retries().length >= 5);
      const delays = retries()
        .slice(0, 5)
        .map((line) => line.retry_in_ms);
      delays.forEach((delay, index) => {
        const ceiling = pollIntervalMs * 2 ** index;
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
        if (index > 0) expect(delay).toBeGreaterThan(delays[index - 1]!);
      });
      expect(
        retries()
          .map((line) => line.consecutive_failures)
          .slice(0, 5),
      ).toEqual([1, 2, 3, 4, 5]);

      await ensureEventStream(nc);
      await waitUntil('the backlog to be published', async () => store.unpublished() === 0);
      const failuresBeforeRecovery = retries().length;
      const metrics = await registry.metrics();
      expect(metrics).toContain(`outbox_relay_failures_total ${failuresBeforeRecovery}`);
      expect(metrics).toContain('outbox_events_published_total 3');

      await (await jetstreamManager(nc)).streams.delete(eventStream.name);
      store.add('evt.relaytest.thing.happened');
      relay.kick();
      await waitUntil('a failure after the recovery', async () => retries().length > failuresBeforeRecovery);
      const afterRecovery = retries()[failuresBeforeRecovery]!;
      expect(afterRecovery.consecutive_failures).toBe(1);
      expect(afterRecovery.retry_in_ms).toBeLessThanOrEqual(pollIntervalMs);
    } finally {
      await relay.stop();
    }
  });
});

describe('startOutboxRelay headers', () => {
  let server: TestServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectBus({ servers: server.url, name: 'outbox-relay-headers-test' });
    await ensureEventStream(nc);
  });

  afterAll(async () => {
    await nc?.drain();
    await server?.stop();
  });

  it('when a row has stored headers, then the message carries them and its own Nats-Msg-Id, not a stored one', async () => {
    const store = memoryOutbox();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const id = store.add('evt.relaytest.thing.headed', {
      traceparent,
      'zs-request-id': 'request-7',
      'Nats-Msg-Id': 'not-the-event-id',
    });
    const relay = startOutboxRelay({ nc, store, logger: createLogger({ service: 'relaytest' }) });
    try {
      await waitUntil('the row to be published', async () => store.unpublished() === 0);
    } finally {
      await relay.stop();
    }

    // This file's own server holds only this message in the stream.
    const consumer = await jetstream(nc).consumers.get(eventStream.name);
    const message = await consumer.next({ expires: 5_000 });

    expect(message?.headers?.get('Nats-Msg-Id')).toBe(id);
    expect(message?.headers?.get('zs-request-id')).toBe('request-7');
    // No tracer provider is registered here, so the publish span is the stored context itself.
    expect(message?.headers?.get('traceparent')).toBe(traceparent);
  });
});

describe('startOutboxRelay kicks', () => {
  let server: TestServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectBus({ servers: server.url, name: 'outbox-relay-kicks-test' });
    await ensureEventStream(nc);
  });

  afterAll(async () => {
    await nc?.drain();
    await server?.stop();
  });

  /** The memory outbox, recording each non-empty batch's size, with a gate that holds a batch open. */
  function recordingOutbox() {
    const store = memoryOutbox();
    const batches: number[] = [];
    let gate: Promise<void> | undefined;
    return {
      store: {
        ...store,
        async relayBatch(limit: number, publish: (row: OutboxRow) => Promise<void>) {
          const published = await store.relayBatch(limit, publish);
          if (published > 0) batches.push(published);
          // Held after its claim: rows added meanwhile are not in this batch.
          await gate;
          return published;
        },
      },
      batches,
      hold(until: Promise<void>) {
        gate = until;
      },
    };
  }

  it('when a row commits and kicks while a batch is running, then it goes out at once, not at the next poll', async () => {
    const outbox = recordingOutbox();
    let release!: () => void;
    outbox.hold(new Promise<void>((resolve) => (release = resolve)));
    // A poll interval far beyond the test's patience: only the kick can get the row out.
    const relay = startOutboxRelay({
      nc,
      store: outbox.store,
      logger: createLogger({ service: 'relaytest' }),
      pollIntervalMs: 600_000,
    });
    try {
      outbox.store.add('evt.relaytest.thing.happened');
      relay.kick(); // arrives while the first batch is held open
      release();
      await waitUntil(
        'the row kicked during a batch to be published',
        async () => outbox.store.unpublished() === 0,
      );
    } finally {
      await relay.stop();
    }
  });

  it('when many commits kick in quick succession, then fewer batches carry them all', async () => {
    const outbox = recordingOutbox();
    const relay = startOutboxRelay({
      nc,
      store: outbox.store,
      logger: createLogger({ service: 'relaytest' }),
      pollIntervalMs: 600_000,
      kickDelayMs: 50,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 20)); // the first, empty look is over
      // A commit every ~2 ms, each kicking, as under load.
      for (let index = 0; index < 40; index += 1) {
        outbox.store.add('evt.relaytest.thing.happened');
        relay.kick();
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await waitUntil('all forty rows to be published', async () => outbox.store.unpublished() === 0);
      expect(outbox.batches.reduce((sum, size) => sum + size, 0)).toBe(40);
      expect(outbox.batches.length).toBeLessThanOrEqual(10);
    } finally {
      await relay.stop();
    }
  });
});

describe('outboxRetryDelayMs', () => {
  it('when failures pile up, then the delay doubles from the poll interval with jitter and stops at 30 s', () => {
    const highest = () => 1;
    const lowest = () => 0;

    expect(outboxRetryDelayMs(1, 500, highest)).toBe(500);
    expect(outboxRetryDelayMs(1, 500, lowest)).toBe(250);
    expect(outboxRetryDelayMs(4, 500, highest)).toBe(4_000);
    expect(outboxRetryDelayMs(4, 500, lowest)).toBe(2_000);
    expect(outboxRetryDelayMs(7, 500, highest)).toBe(30_000);
    expect(outboxRetryDelayMs(1_000, 500, highest)).toBe(30_000);
    expect(outboxRetryDelayMs(1_000, 500, lowest)).toBe(15_000);
  });
});
