import assert from 'node:assert/strict';
import { endpoint, type Registration } from '@zerostate/bus';
import { channelLifetimeDefaultSeconds, paymentEndpoints, paymentEvents } from '@zerostate/contracts';
import { enqueueEvent } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import { writeAudit } from '../db/audit.js';
import { applyPayment, createChannel, findChannel, listChannels, lockChannel } from '../db/channels.js';
import {
  adjustAccount,
  available,
  ensureAccount,
  findAccount,
  inChannel,
  recordTransfer,
} from '../db/ledger.js';
import { isOperator, requireCaller } from '../domain/access.js';
import { closeRefusal, paymentRefusal, roleIn } from '../domain/channel-rules.js';
import { toMicro } from '../domain/money.js';
import { closeAndSettle } from '../settlement.js';
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
      const { closed, transfers } = await closeAndSettle(transaction, {
        channel,
        closedByDid: caller.did,
        role,
        origin: originOf(context),
        now,
      });
      return { transfers, response: encodeChannel(closed) };
    });
  });

  return [open, get, list, pay, close];
}
