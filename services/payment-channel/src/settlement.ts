import { paymentEvents, type TransferKind } from '@zerostate/contracts';
import { enqueueEvent, inTransaction } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import type { Logger } from '@zerostate/observability';
import { type RequestOrigin, writeAudit } from './db/audit.js';
import { type ChannelRecord, findChannel, markChannelClosed } from './db/channels.js';
import { adjustAccount, available, inChannel, inLockOrder, recordTransfer } from './db/ledger.js';
import type { PaymentPrisma, Transaction } from './db/prisma.js';
import {
  type ChannelRole,
  type ChannelSettlement,
  decideExpirySettlement,
  expirySweepCutoff,
} from './domain/channel-rules.js';
import { toJsonAmount } from './domain/money.js';

/**
 * Carries out a settlement the domain decided (`decideChannelClose`, `decideExpirySettlement`)
 * for a locked, open channel inside the caller's transaction: each credit out of the channel's
 * deposit (accounts in id order, so two closes over the same pair cannot deadlock), the row
 * records the split, and an audit row and `evt.payment.channel.closed` go with it. `closedByDid`
 * is null when the expiry sweep closes it.
 */
export async function closeAndSettle(
  transaction: Transaction,
  close: {
    channel: ChannelRecord;
    settlement: ChannelSettlement;
    closedByDid: string | null;
    role: ChannelRole | 'expiry';
    origin: RequestOrigin;
    now: Date;
  },
): Promise<{ closed: ChannelRecord; transfers: TransferKind[] }> {
  const { channel, settlement, now } = close;
  const accountOf = { payee: channel.payeeAccountId, payer: channel.payerAccountId };
  const legs = inLockOrder(
    settlement.credits.map((credit) => ({ ...credit, accountId: accountOf[credit.to] })),
  );
  for (const leg of legs) {
    // Credits are checked by the UPDATE's guard alone (the same rule as `balancesAfter`): reading
    // both accounts first would cost every close two queries for a refusal near 2^53 - 1.
    const credited = await adjustAccount(transaction, leg.accountId, leg.credit.change);
    if (!credited) throw new AppError(leg.credit.refusal);
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
  const cutoff = expirySweepCutoff(now, options.graceMs);
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
        // The WHERE clause claims what `decideExpirySettlement` settles; SKIP LOCKED guards the race.
        const due = await transaction.$queryRaw<{ id: string }[]>`
          SELECT id::text AS id FROM payment_channels
          WHERE status = 'open' AND expires_at < ${cutoff} AND NOT (id::text = ANY(${skipped}))
          ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED`;
        claimed = due[0]?.id;
        const channel = claimed && (await findChannel(transaction, claimed));
        if (!channel) return false;
        await closeAndSettle(transaction, {
          channel,
          settlement: decideExpirySettlement(channel, now, options.graceMs),
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
