import assert from 'node:assert/strict';
import { endpoint, type Registration } from '@zerostate/bus';
import {
  channelLifetimeDefaultSeconds,
  paymentEndpoints,
  paymentEvents,
  type TransferKind,
} from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { writeAudit } from '../db/audit.js';
import {
  applyPayment,
  createChannel,
  findChannel,
  listChannels,
  lockChannel,
  markChannelClosed,
} from '../db/channels.js';
import {
  adjustAccount,
  available,
  ensureAccount,
  findAccount,
  inChannel,
  recordTransfer,
} from '../db/ledger.js';
import { enqueueEvent } from '../db/outbox.js';
import type { Transaction } from '../db/prisma.js';
import { isOperator, requireCaller } from '../domain/access.js';
import { closeRefusal, paymentRefusal, roleIn, settlementOf } from '../domain/channel-rules.js';
import { toJsonAmount, toMicro } from '../domain/money.js';
import { moveMoney, originOf, type PaymentDependencies } from './dependencies.js';
import { encodeChannel } from './encode.js';

/** Open channels one payer may hold at once; each locks funds and is listed on every page view. */
export const openChannelsPerPayerMax = 1_000;

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** channel.open, channel.get, channel.list, channel.pay, channel.close. */
export function channelRegistrations(dependencies: PaymentDependencies): Registration[] {
  const { prisma } = dependencies;

  const open = endpoint(paymentEndpoints.openChannel, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:write');
    if (input.payee_did === caller.did) {
      throw new AppError('VALIDATION_FAILED', 'A channel cannot pay its own payer.', {
        details: [{ path: 'payee_did', code: 'custom', message: 'must differ from the payer' }],
      });
    }
    const deposit = toMicro(input.amount);
    const lifetimeSeconds = input.expires_in_seconds ?? channelLifetimeDefaultSeconds;
    const call = { context, caller, endpoint: paymentEndpoints.openChannel, input };
    return moveMoney(dependencies, call, async (transaction) => {
      const payer = await findAccount(transaction, caller.did);
      if (!payer) throw new AppError('INSUFFICIENT_FUNDS');
      // The payee's account is resolved before the payer's row is locked: two users opening
      // channels to each other at once would otherwise wait on each other's rows (deadlock).
      const payeeAccountId = await ensureAccount(transaction, input.payee_did);
      const funded = await adjustAccount(transaction, payer.id, { available: -deposit });
      if (!funded) throw new AppError('INSUFFICIENT_FUNDS');
      // Counted after the payer's row is locked, so concurrent opens cannot pass the cap together.
      const openChannels = await transaction.paymentChannel.count({
        where: { payerAccountId: payer.id, status: 'open' },
      });
      if (openChannels >= openChannelsPerPayerMax) {
        throw new AppError('CONFLICT', `A payer may keep at most ${openChannelsPerPayerMax} channels open.`);
      }
      const channel = await createChannel(transaction, {
        payerAccountId: payer.id,
        payerDid: caller.did,
        payeeAccountId,
        payeeDid: input.payee_did,
        deposit,
        expiresAt: new Date(Date.now() + lifetimeSeconds * 1000),
      });
      await recordTransfer(transaction, {
        kind: 'channel_funding',
        amount: deposit,
        from: available(payer.id),
        to: inChannel(channel.id),
        referenceId: channel.id,
        requestId: context.requestId,
      });
      await writeAudit(transaction, originOf(context), {
        action: 'payment.channel.open',
        actorDid: caller.did,
        targetId: channel.id,
        metadata: { payee_did: input.payee_did, deposit: input.amount },
      });
      await enqueueEvent(transaction, paymentEvents.channelOpened, {
        channel_id: channel.id,
        payer_did: caller.did,
        payee_did: input.payee_did,
        deposit: input.amount,
      });
      return { transfers: ['channel_funding'], response: encodeChannel(channel) };
    });
  });

  const get = endpoint(paymentEndpoints.getChannel, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:read');
    const channel = await findChannel(prisma, input.id);
    if (!channel || (roleIn(channel, caller.did) === 'none' && !isOperator(caller))) {
      throw new AppError('NOT_FOUND');
    }
    return encodeChannel(channel);
  });

  const list = endpoint(paymentEndpoints.listChannels, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:read');
    if (input.cursor !== undefined && !uuidShape.test(input.cursor)) {
      throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.', { details: [{ path: 'cursor' }] });
    }
    const page = await listChannels(prisma, {
      did: caller.did,
      role: input.role,
      status: input.status,
      beforeId: input.cursor,
      limit: input.limit,
    });
    const items = page.items.map(encodeChannel);
    return { items, next_cursor: page.hasMore ? (items.at(-1)?.id ?? null) : null };
  });

  const pay = endpoint(paymentEndpoints.payChannel, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:write');
    const payment = { amount: toMicro(input.amount), sequenceNumber: toMicro(input.sequence_number) };
    const now = new Date();
    const call = { context, caller, endpoint: paymentEndpoints.payChannel, input, singleStatement: true };
    return moveMoney(dependencies, call, async (db) => {
      const outcome = await applyPayment(db, {
        channelId: input.id,
        payerDid: caller.did,
        ...payment,
        signature: input.signature,
        requestId: context.requestId,
        now,
      });
      const channel = outcome?.before;
      const role = channel ? roleIn(channel, caller.did) : 'none';
      if (!channel || role === 'none') throw new AppError('NOT_FOUND');
      if (!outcome.accepted) {
        if (role !== 'payer') throw new AppError('FORBIDDEN', 'Only the payer pays through a channel.');
        const refusal = paymentRefusal(channel, payment, now);
        assert(refusal, 'the statement and paymentRefusal apply the same rules');
        throw new AppError(refusal);
      }
      const after = { ...channel, paid: payment.amount, sequenceNumber: payment.sequenceNumber };
      return {
        transfers: [],
        response: encodeChannel(after),
        afterCommit: () => dependencies.metrics.channelPayments.inc(),
      };
    });
  });

  const close = endpoint(paymentEndpoints.closeChannel, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:write');
    const call = { context, caller, endpoint: paymentEndpoints.closeChannel, input };
    return moveMoney(dependencies, call, async (transaction) => {
      const channel = await lockChannel(transaction, input.id);
      const role = channel ? roleIn(channel, caller.did) : 'none';
      const operator = isOperator(caller);
      if (!channel || (role === 'none' && !operator)) throw new AppError('NOT_FOUND');
      const now = new Date();
      const refusal = closeRefusal(channel, { role, isOperator: operator }, now);
      if (refusal) throw new AppError(refusal);
      const settlement = settlementOf(channel, now);
      const transfers = await settle(transaction, {
        channelId: channel.id,
        payee: { accountId: channel.payeeAccountId, amount: settlement.settled },
        payer: { accountId: channel.payerAccountId, amount: settlement.refunded },
        requestId: context.requestId,
      });
      const closed = await markChannelClosed(transaction, {
        channelId: channel.id,
        status: settlement.status,
        settled: settlement.settled,
        refunded: settlement.refunded,
        closedByDid: caller.did,
        at: now,
      });
      await writeAudit(transaction, originOf(context), {
        action: 'payment.channel.close',
        actorDid: caller.did,
        targetId: channel.id,
        metadata: {
          settled: toJsonAmount(settlement.settled),
          refunded: toJsonAmount(settlement.refunded),
          role,
        },
      });
      await enqueueEvent(transaction, paymentEvents.channelClosed, {
        channel_id: channel.id,
        status: settlement.status,
        settled_amount: toJsonAmount(settlement.settled),
        refunded_amount: toJsonAmount(settlement.refunded),
      });
      return { transfers, response: encodeChannel(closed) };
    });
  });

  return [open, get, list, pay, close];
}

/**
 * Empties a channel's book: the paid amount to the payee, the rest back to the payer. Accounts
 * are credited in id order, so two closes crediting the same pair cannot deadlock.
 */
async function settle(
  transaction: Transaction,
  split: {
    channelId: string;
    payee: { accountId: string; amount: bigint };
    payer: { accountId: string; amount: bigint };
    requestId: string;
  },
): Promise<TransferKind[]> {
  const legs = [
    { kind: 'channel_settlement' as const, ...split.payee },
    { kind: 'channel_refund' as const, ...split.payer },
  ]
    .filter((leg) => leg.amount > 0n)
    .sort((left, right) => (left.accountId < right.accountId ? -1 : 1));
  for (const leg of legs) {
    const credited = await adjustAccount(transaction, leg.accountId, { available: leg.amount });
    if (!credited) throw new AppError('ACCOUNT_LIMIT_EXCEEDED');
    await recordTransfer(transaction, {
      kind: leg.kind,
      amount: leg.amount,
      from: inChannel(split.channelId),
      to: available(leg.accountId),
      referenceId: split.channelId,
      requestId: split.requestId,
    });
  }
  return legs.map((leg) => leg.kind);
}
