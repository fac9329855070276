import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { OutboxRow } from '@zerostate/contracts';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPool, pgOutboxStore, prunePublishedOutbox } from '../src/index.js';
import { migratedScratchDatabase, type ScratchDatabase } from './support.js';

/** A migrated scratch database with a small pool, one per describe block. */
function scratchOutbox(name: string) {
  let database: ScratchDatabase | undefined;
  let pool: pg.Pool | undefined;
  return {
    async open(): Promise<pg.Pool> {
      database = await migratedScratchDatabase(name);
      pool = createPool({
        connectionString: database.url,
        max: 5,
        minIdle: 0,
        maxLifetimeSeconds: 60,
        idleTimeoutMs: 10_000,
        connectTimeoutMs: 5_000,
      });
      return pool;
    },
    async close(): Promise<void> {
      await pool?.end();
      await database?.drop();
    },
  };
}

describe('pgOutboxStore', () => {
  const scratch = scratchOutbox('outbox');
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = await scratch.open();
  });
  afterAll(() => scratch.close());
  beforeEach(async () => {
    await pool.query('DELETE FROM outbox');
  });

  /** Inserts rows one millisecond apart, so their occurred_at order is their insertion order. */
  async function insertRows(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const id = randomUUID();
      ids.push(id);
      await pool.query(
        "INSERT INTO outbox (id, subject, payload, occurred_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')",
        [id, 'evt.test.thing.happened', { index }, index],
      );
    }
    return ids;
  }

  async function unpublishedCount(): Promise<number> {
    const { rows } = await pool.query<{ count: string }>(
      'SELECT count(*) FROM outbox WHERE published_at IS NULL',
    );
    return Number(rows[0]!.count);
  }

  it('when a batch is relayed, then rows are published oldest first with their payload and marked published', async () => {
    const ids = await insertRows(3);
    const published: OutboxRow[] = [];

    const count = await pgOutboxStore(pool).relayBatch(10, async (row) => {
      published.push(row);
    });

    expect(count).toBe(3);
    expect(published.map((row) => row.id)).toEqual(ids);
    expect(published[1]).toMatchObject({ subject: 'evt.test.thing.happened', payload: { index: 1 } });
    expect(published[1]!.occurredAt).toBeInstanceOf(Date);
    expect(await unpublishedCount()).toBe(0);
    expect(await pgOutboxStore(pool).relayBatch(10, async () => undefined)).toBe(0);
  });

  it('when the limit is smaller than the backlog, then one batch publishes only that many', async () => {
    await insertRows(5);

    const count = await pgOutboxStore(pool).relayBatch(2, async () => undefined);

    expect(count).toBe(2);
    expect(await unpublishedCount()).toBe(3);
  });

  it('when two relays run concurrently over the same rows, then each row is published exactly once', async () => {
    const ids = await insertRows(40);
    const publishedIds: string[] = [];
    const publish = async (row: OutboxRow) => {
      // Yield so the other relay's statements interleave with this batch.
      await yieldToEventLoop();
      publishedIds.push(row.id);
    };
    const store = pgOutboxStore(pool);
    const drain = async () => {
      let total = 0;
      for (;;) {
        const published = await store.relayBatch(7, publish);
        if (published === 0) return total;
        total += published;
      }
    };

    const [first, second] = await Promise.all([drain(), drain()]);

    expect(publishedIds.length).toBe(40);
    expect(new Set(publishedIds)).toEqual(new Set(ids));
    expect(first + second).toBe(40);
    expect(await unpublishedCount()).toBe(0);
  });

  it('when a second relay runs while the first still holds its batch, then it takes the next rows, not the same', async () => {
    const ids = await insertRows(10);
    const store = pgOutboxStore(pool);
    const firstRelayIds: string[] = [];
    const secondRelayIds: string[] = [];
    let secondRelay: Promise<number> | undefined;

    const firstCount = await store.relayBatch(4, async (row) => {
      // The first relay's rows stay locked (uncommitted) while the whole second relay runs.
      secondRelay ??= store.relayBatch(4, async (other) => {
        secondRelayIds.push(other.id);
      });
      await secondRelay;
      firstRelayIds.push(row.id);
    });

    expect(firstCount).toBe(4);
    expect(await secondRelay).toBe(4);
    expect(firstRelayIds).toEqual(ids.slice(0, 4));
    expect(secondRelayIds).toEqual(ids.slice(4, 8));
    expect(await unpublishedCount()).toBe(2);
  });

  it('when publishing fails midway, then only the failed row stays unpublished and the error propagates', async () => {
    const ids = await insertRows(4);
    const attempted: string[] = [];

    await expect(
      pgOutboxStore(pool).relayBatch(10, async (row) => {
        attempted.push(row.id);
        if (attempted.length === 3) throw new Error('nats down');
      }),
    ).rejects.toThrow('nats down');

    // The batch's publishes are sent together, in order: all four were attempted, three stored.
    expect(attempted).toEqual(ids);
    expect(await unpublishedCount()).toBe(1);
    const retried: string[] = [];
    await pgOutboxStore(pool).relayBatch(10, async (row) => {
      retried.push(row.id);
    });
    expect(retried).toEqual([ids[2]]);
    expect(await unpublishedCount()).toBe(0);
  });
});

describe('prunePublishedOutbox', () => {
  const hourMs = 3_600_000;
  const scratch = scratchOutbox('outbox_prune');
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = await scratch.open();
  });
  afterAll(() => scratch.close());
  beforeEach(async () => {
    await pool.query('DELETE FROM outbox');
  });

  /**
   * Inserts rows that occurred `ageHours` ago and were published `publishedHoursAgo` ago
   * (null: never published); returns their ids.
   */
  async function insertRows(count: number, ages: { ageHours: number; publishedHoursAgo: number | null }) {
    const ids: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const id = randomUUID();
      ids.push(id);
      await pool.query(
        `INSERT INTO outbox (id, subject, payload, occurred_at, published_at)
         VALUES ($1, 'evt.test.thing.happened', '{}', now() - $2 * interval '1 hour',
                 now() - $3::double precision * interval '1 hour')`,
        [id, ages.ageHours, ages.publishedHoursAgo],
      );
    }
    return ids;
  }

  async function remainingIds(): Promise<Set<string>> {
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM outbox');
    return new Set(rows.map((row) => row.id));
  }

  it('when rows were published before the cutoff, then only those go and recent or unpublished rows stay', async () => {
    await insertRows(3, { ageHours: 50, publishedHoursAgo: 48 });
    const recent = await insertRows(2, { ageHours: 50, publishedHoursAgo: 1 });
    const unpublished = await insertRows(2, { ageHours: 500, publishedHoursAgo: null });

    const deleted = await prunePublishedOutbox(pool, { olderThanMs: 24 * hourMs, batchSize: 100 });

    expect(deleted).toBe(3);
    expect(await remainingIds()).toEqual(new Set([...recent, ...unpublished]));
    expect(await prunePublishedOutbox(pool, { olderThanMs: 24 * hourMs, batchSize: 100 })).toBe(0);
  });

  it('when more rows qualify than the batch size, then one call deletes exactly the batch size', async () => {
    await insertRows(5, { ageHours: 50, publishedHoursAgo: 48 });
    const keep = await insertRows(1, { ageHours: 1, publishedHoursAgo: 0.5 });

    const first = await prunePublishedOutbox(pool, { olderThanMs: 24 * hourMs, batchSize: 2 });
    const remainingAfterFirst = (await remainingIds()).size;
    const second = await prunePublishedOutbox(pool, { olderThanMs: 24 * hourMs, batchSize: 2 });
    const third = await prunePublishedOutbox(pool, { olderThanMs: 24 * hourMs, batchSize: 2 });
    const fourth = await prunePublishedOutbox(pool, { olderThanMs: 24 * hourMs, batchSize: 2 });

    expect([first, second, third, fourth]).toEqual([2, 2, 1, 0]);
    expect(remainingAfterFirst).toBe(4);
    expect(await remainingIds()).toEqual(new Set(keep));
  });

  it('when two replicas prune at once, then every old row is deleted once and the counts add up', async () => {
    await insertRows(30, { ageHours: 50, publishedHoursAgo: 48 });
    const drain = async () => {
      let total = 0;
      for (;;) {
        const deleted = await prunePublishedOutbox(pool, { olderThanMs: 24 * hourMs, batchSize: 4 });
        if (deleted === 0) return total;
        total += deleted;
      }
    };

    const [first, second] = await Promise.all([drain(), drain()]);

    expect(first + second).toBe(30);
    expect((await remainingIds()).size).toBe(0);
  });

  it('when the batch size is not a positive integer, then it refuses before touching the table', async () => {
    await insertRows(1, { ageHours: 50, publishedHoursAgo: 48 });

    await expect(prunePublishedOutbox(pool, { olderThanMs: hourMs, batchSize: 0 })).rejects.toThrow(
      /batchSize/,
    );
    expect((await remainingIds()).size).toBe(1);
  });
});
