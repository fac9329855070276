import type { EventContract } from '@zerostate/contracts';
import { uuidV7 } from '@zerostate/database';
import type { z } from 'zod';
import type { JsonInput, Transaction } from './prisma.js';

/**
 * Records an event in the same transaction as the change it describes; the outbox relay
 * publishes it after commit. The payload is checked against the contract here, so a malformed
 * event fails the change instead of reaching consumers.
 */
export async function enqueueEvent<Payload extends z.ZodType>(
  transaction: Transaction,
  event: EventContract<Payload>,
  payload: z.input<Payload>,
): Promise<void> {
  await transaction.outbox.create({
    data: { id: uuidV7(), subject: event.subject, payload: event.payload.parse(payload) as JsonInput },
  });
}
