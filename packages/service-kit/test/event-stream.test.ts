import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectBus, deadLetterStream, ensureEventStream, eventStream } from '@zerostate/bus';
import { startNatsServer, type TestServer } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const nanosPerMs = 1_000_000;

describe('ensureEventStream', () => {
  let server: TestServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    // A server of this file's own: the test changes the EVENTS stream's settings.
    server = await startNatsServer({ jetstream: true });
    nc = await connectBus({ servers: server.url, name: 'event-stream-test' });
  });

  afterAll(async () => {
    await nc?.drain();
    await server?.stop();
  });

  async function settings(name: string) {
    const { config } = await (await jetstreamManager(nc)).streams.info(name);
    return {
      subjects: config.subjects,
      replicas: config.num_replicas,
      duplicateWindowMs: config.duplicate_window / nanosPerMs,
    };
  }

  it('when called with defaults, then both streams exist with one replica and a two-minute duplicate window', async () => {
    await ensureEventStream(nc);

    expect(await settings(eventStream.name)).toEqual({
      subjects: ['evt.>'],
      replicas: 1,
      duplicateWindowMs: 120_000,
    });
    expect(await settings(deadLetterStream.name)).toEqual({
      subjects: ['dlq.>'],
      replicas: 1,
      duplicateWindowMs: 120_000,
    });
  });

  it('when the stream exists with another duplicate window, then it is updated in place and keeps its messages', async () => {
    await ensureEventStream(nc);
    const manager = await jetstreamManager(nc);
    await nc.request('evt.streamtest.thing.happened', 'kept', { timeout: 2_000 });
    const messagesBefore = (await manager.streams.info(eventStream.name)).state.messages;

    await ensureEventStream(nc, { duplicateWindowMs: 30_000 });

    expect((await settings(eventStream.name)).duplicateWindowMs).toBe(30_000);
    expect((await settings(deadLetterStream.name)).duplicateWindowMs).toBe(30_000);
    expect((await manager.streams.info(eventStream.name)).state.messages).toBe(messagesBefore);
    expect(messagesBefore).toBeGreaterThan(0);
  });

  it('when three replicas are asked of this single server, then it refuses naming EVENT_STREAM_REPLICAS and changes nothing', async () => {
    await ensureEventStream(nc, { duplicateWindowMs: 60_000 });

    await expect(ensureEventStream(nc, { replicas: 3, duplicateWindowMs: 90_000 })).rejects.toThrow(
      /EVENT_STREAM_REPLICAS=3/,
    );
    expect(await settings(eventStream.name)).toMatchObject({ replicas: 1, duplicateWindowMs: 60_000 });
  });
});
