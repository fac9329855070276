import type { OutboxWriter } from '@zerostate/database';
import type pg from 'pg';
import type { TaskPrisma, Transaction } from './prisma.js';

/**
 * One way to run SQL inside a transaction, whether it is a Prisma interactive transaction (the
 * handlers) or the `pg` client the kit gives an event consumer, so a task's transition is written
 * by one piece of code wherever it happens. `writer` is the same transaction, for the outbox.
 */
export interface Sql {
  query<Row>(text: string, values?: unknown[]): Promise<Row[]>;
  writer: OutboxWriter;
}

/** Over a transaction, or over the client itself for a single read. */
export function prismaSql(transaction: Transaction | TaskPrisma): Sql {
  return {
    query: (text, values = []) => transaction.$queryRawUnsafe(text, ...values),
    writer: transaction,
  };
}

export function pgSql(client: pg.ClientBase): Sql {
  return {
    query: async <Row>(text: string, values: unknown[] = []) =>
      (await client.query(text, values)).rows as Row[],
    writer: client,
  };
}
