import { paymentEvents, type TransferKind } from '@zerostate/contracts';
import { enqueueEvent, inTransaction } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import type { Logger } from '@zerostate/observability';
import { type RequestOrigin, writeAudit } from './db/audit.js';
import { type ChannelRecord, findChannel, markChannelClosed } from './db/channels.js';
import { adjustAccount, available, inChannel, recordTransfer } from './db/ledger.js';
import type { PaymentPrisma, Transaction } from './db/prisma.js';
import type { ChannelRole } from './domain/channel-rules.js';
import { settlementOf } from './domain/channel-rules.js';
import { toJsonAmount } from './domain/money.js';

/**
 * Closes a locked, open channel inside the caller's transaction: the payee is credited what it
 * was paid, the payer the rest (accounts in id order, so two closes over the same pair cannot
 * deadlock), the row records the split, and an audit row and `evt.payment.channel.closed` go
 * with it. `closedByDid` is null when the expiry sweep closes it.
 */
export async function closeAndSettle(
  transaction: Transaction,
  close: {
    channel: ChannelRecord;
    closedByDid: string | null;
    role: ChannelRole | 'expiry';
    origin: RequestOrigin;
    now: Date;
  },
): Promise<{ closed: ChannelRecord; transfers: TransferKind[] }> {
  const { channel, now } = close;
  const settlement = settlementOf(channel, now);
  const legs = [
    { kind: 'channel_settlement' as const, accountId: channel.payeeAccountId, amount: settlement.settled },
    { kind: 'channel_refund' as const, accountId: channel.payerAccountId, amount: settlement.refunded },
  ]
    .filter((leg) => leg.amount > 0n)
    .sort((left, right) => (left.accountId < right.accountId ? -1 : 1));
  for (const leg of legs) {
    const credited = await adjustAccount(transaction, leg.accountId, { available: leg.amount });
    if (!credited) throw new AppError('ACCOUNT_LIMIT_EXCEEDED');
    await recordTransfer(transaction, {
      kind: leg.kind,
      amount: leg.amount,
      from: inChannel(channel.id),
      to: available(leg.accountId),
      referenceId: channel.id,
      requestId: close.origin.requestId,
    });
  }
  const closed = await markChannelClosed(transaction, {
    channelId: channel.id,
    status: settlement.status,
    settled: settlement.settled,
    refunded: settlement.refunded,
    closedByDid: close.closedByDid,
    at: now,
  });
  const amounts = { settled: toJsonAmount(settlement.settled), refunded: toJsonAmount(settlement.refunded) };
  await writeAudit(transaction, close.origin, {
    action: 'payment.channel.close',
    actorDid: close.closedByDid,
    targetId: channel.id,
    metadata: { ...amounts, role: close.role },
  });
  await enqueueEvent(transaction, paymentEvents.channelClosed, {
    channel_id: channel.id,
    status: settlement.status,
    settled_amount: amounts.settled,
    refunded_amount: amounts.refunded,
  });
  return { closed, transfers: legs.map((leg) => leg.kind) };
}

/** Channels one sweep closes at most (one transaction each); the next sweep takes the rest. */
const sweepBatchMax = 100;

/**
 * Closes channels that expired more than `graceMs` ago and that nobody closed: the payee gets
 * what it was paid, the payer the rest, exactly as if the payer had reclaimed it, so no deposit
 * stays locked forever. Rows are claimed with SKIP LOCKED, so every replica may sweep at once
 * and a channel someone is closing right now is left to them. Returns how many it closed.
 */
export async function sweepExpiredChannels(options: {
  prisma: PaymentPrisma;
  logger: Logger;
  graceMs: number;
  now?: Date;
}): Promise<number> {
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - options.graceMs);
  let closed = 0;
  // A channel that cannot be settled (its payee's balance at the limit) is skipped for the rest
  // of this sweep, so it cannot hold up every channel that expired after it.
  const skipped: string[] = [];
  // One channel per transaction: a batch would hold many accounts' locks in no global order and
  // deadlock with closes and captures that lock theirs in id order.
  while (closed + skipped.length < sweepBatchMax) {
    let claimed: string | undefined;
    try {
      const settled = await inTransaction(options.prisma, async (transaction) => {
        const due = await transaction.$queryRaw<{ id: string }[]>`
          SELECT id::text AS id FROM payment_channels
          WHERE status = 'open' AND expires_at < ${cutoff} AND NOT (id::text = ANY(${skipped}))
          ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED`;
        claimed = due[0]?.id;
        const channel = claimed && (await findChannel(transaction, claimed));
        if (!channel) return false;
        await closeAndSettle(transaction, {
          channel,
          closedByDid: null,
          role: 'expiry',
          origin: { requestId: `expiry-sweep-${now.toISOString()}` },
          now,
        });
        return true;
      });
      if (!settled) break;
      closed += 1;
    } catch (error) {
      if (claimed === undefined) throw error;
      options.logger.warn(
        { err: error, channel_id: claimed },
        'expired channel could not be settled; skipped',
      );
      skipped.push(claimed);
    }
  }
  if (closed > 0) options.logger.info({ closed }, 'expired channels closed and settled');
  return closed;
}
