import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { processedEventsRetentionMs, pruneProcessedEvents } from '../src/index.js';
import { type KitDatabase, kitDatabase } from './support.js';

const hourMs = 3_600_000;

describe('pruneProcessedEvents', () => {
  let database: KitDatabase;

  beforeAll(async () => {
    database = await kitDatabase('kit_prune');
  });
  afterAll(async () => {
    await database?.close();
  });
  beforeEach(async () => {
    await database.pool.query('DELETE FROM processed_events');
  });

  /** Records `count` processed ids `ageHours` old; returns the ids. */
  async function recordProcessed(count: number, ageHours: number): Promise<string[]> {
    const ids = Array.from({ length: count }, () => randomUUID());
    for (const id of ids) {
      await database.pool.query(
        `INSERT INTO processed_events (consumer, event_id, processed_at)
         VALUES ('kittest_prune', $1, now() - $2 * interval '1 hour')`,
        [id, ageHours],
      );
    }
    return ids;
  }

  async function remainingIds(): Promise<Set<string>> {
    const { rows } = await database.pool.query<{ event_id: string }>('SELECT event_id FROM processed_events');
    return new Set(rows.map((row) => row.event_id));
  }

  it('when ids are older than the retention, then only those go, in batches of at most batchSize', async () => {
    await recordProcessed(5, 8 * 24);
    const recent = await recordProcessed(2, 6 * 24);
    const options = { olderThanMs: processedEventsRetentionMs, batchSize: 2 };

    const deleted = [
      await pruneProcessedEvents(database.pool, options),
      await pruneProcessedEvents(database.pool, options),
      await pruneProcessedEvents(database.pool, options),
      await pruneProcessedEvents(database.pool, options),
    ];

    expect(deleted).toEqual([2, 2, 1, 0]);
    expect(await remainingIds()).toEqual(new Set(recent));
  });

  it('when two replicas prune at once, then every old id is deleted once and the counts add up', async () => {
    await recordProcessed(30, 2);
    const drain = async () => {
      let total = 0;
      for (;;) {
        const deleted = await pruneProcessedEvents(database.pool, { olderThanMs: hourMs, batchSize: 4 });
        if (deleted === 0) return total;
        total += deleted;
      }
    };

    const [first, second] = await Promise.all([drain(), drain()]);

    expect(first + second).toBe(30);
    expect((await remainingIds()).size).toBe(0);
  });

  it('when the batch size is not a positive integer, then it refuses before touching the table', async () => {
    await recordProcessed(1, 8 * 24);

    await expect(pruneProcessedEvents(database.pool, { olderThanMs: hourMs, batchSize: 0 })).rejects.toThrow(
      /batchSize/,
    );
    expect((await remainingIds()).size).toBe(1);
  });
});
