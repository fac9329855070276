import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { EventEnvelope, OutboxRow, OutboxStore } from '@zerostate/contracts';
import type { Logger } from '@zerostate/observability';
import { encodeJson } from './envelope.js';

export const eventStream = { name: 'EVENTS', subjects: ['evt.>'] } as const;

/** Creates the events stream if missing. JetStream drops a repeated `Nats-Msg-Id` in the window. */
export async function ensureEventStream(nc: NatsConnection, duplicateWindowMs = 120_000): Promise<void> {
  const manager = await jetstreamManager(nc);
  const nanos = (ms: number) => ms * 1_000_000;
  try {
    await manager.streams.info(eventStream.name);
  } catch {
    await manager.streams.add({
      name: eventStream.name,
      subjects: [...eventStream.subjects],
      duplicate_window: nanos(duplicateWindowMs),
      max_age: nanos(7 * 24 * 3_600_000),
    });
  }
}

export interface OutboxRelay {
  /** Asks the relay to look now instead of at the next poll (call after a commit). */
  kick(): void;
  stop(): Promise<void>;
}

/**
 * Publishes outbox rows to JetStream with `Nats-Msg-Id` = event id, so a row published twice
 * (crash between publish and mark) is stored once. Safe with several replicas: each batch is
 * claimed with SKIP LOCKED.
 */
export function startOutboxRelay(options: {
  nc: NatsConnection;
  store: OutboxStore;
  logger: Logger;
  pollIntervalMs?: number;
  batchSize?: number;
}): OutboxRelay {
  const js: JetStreamClient = jetstream(options.nc);
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const batchSize = options.batchSize ?? 100;
  let stopped = false;
  let wake: (() => void) | undefined;
  const publish = async (row: OutboxRow) => {
    const envelope: EventEnvelope = {
      id: row.id,
      type: row.subject,
      occurred_at: row.occurredAt.toISOString(),
      data: row.payload,
    };
    await js.publish(row.subject, encodeJson(envelope), { msgID: row.id, timeout: 2_000 });
  };
  const loop = async () => {
    while (!stopped) {
      try {
        const published = await options.store.relayBatch(batchSize, publish);
        if (published === batchSize) continue;
      } catch (error) {
        options.logger.warn({ err: error }, 'outbox relay batch failed; will retry');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollIntervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  };
  const running = loop();
  return {
    kick: () => wake?.(),
    stop: async () => {
      stopped = true;
      wake?.();
      await running;
    },
  };
}
