import { context, trace } from '@opentelemetry/api';
import { defineEvent } from '@zerostate/contracts';
import { runWithRequestContext, startTelemetry } from '@zerostate/observability';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { enqueueEvent, pgOutboxStore } from '../src/index.js';
import { migratedScratchDatabase, type ScratchDatabase } from './support.js';

const thingHappened = defineEvent('evt.test.thing.happened', z.object({ name: z.string().max(20) }));
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const spanId = '00f067aa0ba902b7';

interface StoredRow {
  id: string;
  subject: string;
  payload: unknown;
  headers: Record<string, string>;
}

// This file's worker owns the process-wide OpenTelemetry globals (context manager, propagator).
describe('enqueueEvent', () => {
  let database: ScratchDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    await startTelemetry({ serviceName: 'enqueue-event-test' });
    database = await migratedScratchDatabase('enqueue_event');
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    // Dropping the database after end() may kill idle sockets; that must not fail the run.
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });
  beforeEach(async () => {
    await pool.query('DELETE FROM outbox');
  });

  /** Runs `work` in a committed transaction on a pg client, as a consumer's handler would. */
  async function inPgTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  async function storedRows(): Promise<StoredRow[]> {
    return (await pool.query<StoredRow>('SELECT id, subject, payload, headers FROM outbox')).rows;
  }

  it('when an event is enqueued inside a request and a span, then its row carries the trace context and request id', async () => {
    const span = trace.wrapSpanContext({ traceId, spanId, traceFlags: 1 });

    const id = await runWithRequestContext({ requestId: 'request-42' }, () =>
      context.with(trace.setSpan(context.active(), span), () =>
        inPgTransaction((client) => enqueueEvent(client, thingHappened, { name: 'first' })),
      ),
    );

    expect(await storedRows()).toEqual([
      {
        id,
        subject: 'evt.test.thing.happened',
        payload: { name: 'first' },
        headers: { traceparent: `00-${traceId}-${spanId}-01`, 'zs-request-id': 'request-42' },
      },
    ]);
    const relayed: unknown[] = [];
    await pgOutboxStore(pool).relayBatch(10, async (row) => {
      relayed.push(row.headers);
    });
    expect(relayed).toEqual([{ traceparent: `00-${traceId}-${spanId}-01`, 'zs-request-id': 'request-42' }]);
  });

  it('when an event is enqueued outside any request or span, then its headers are empty', async () => {
    await inPgTransaction((client) => enqueueEvent(client, thingHappened, { name: 'quiet' }));

    expect((await storedRows()).map((row) => row.headers)).toEqual([{}]);
  });

  it('when the payload breaks the contract, then nothing is written and the error propagates', async () => {
    const enqueue = inPgTransaction((client) =>
      enqueueEvent(client, thingHappened, { name: 'x'.repeat(21) }),
    );

    await expect(enqueue).rejects.toThrow(/too_big|Too big/);
    expect(await storedRows()).toEqual([]);
  });
});
