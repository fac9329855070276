import assert from 'node:assert/strict';
import { endpoint, type Registration } from '@zerostate/bus';
import { paymentEndpoints, paymentEvents } from '@zerostate/contracts';
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
  requireOpenAccount,
} from '../db/ledger.js';
import { isOperator, requireCaller } from '../domain/access.js';
import { requireDebit } from '../domain/balances.js';
import {
  decideChannelClose,
  decideChannelOpen,
  decideChannelPayment,
  requireRoomForChannel,
  requireVisibleChannel,
} from '../domain/channel-rules.js';
import { toMicro } from '../domain/money.js';
import { closeAndSettle } from '../settlement.js';
import { moveMoney, originOf, type PaymentDependencies } from './dependencies.js';
import { encodeChannel } from './encode.js';

export { openChannelsPerPayerMax } from '../domain/channel-rules.js';

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** channel.open, channel.get, channel.list, channel.pay, channel.close. */
export function channelRegistrations(dependencies: PaymentDependencies): Registration[] {
  const { prisma } = dependencies;

  const open = endpoint(paymentEndpoints.openChannel, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:write');
    const deposit = toMicro(input.amount);
    const request = {
      payerDid: caller.did,
      payeeDid: input.payee_did,
      deposit,
      lifetimeSeconds: input.expires_in_seconds,
    };
    const opening = decideChannelOpen(request, new Date());
    const call = { context, caller, endpoint: paymentEndpoints.openChannel, input };
    return moveMoney(dependencies, call, async (transaction) => {
      const payer = requireDebit(await findAccount(transaction, caller.did), opening.funding);
      // The payee's account is resolved before the payer's row is locked: two users opening
      // channels to each other at once would otherwise wait on each other's rows (deadlock).
      const payeeAccountId = (await ensureAccount(transaction, input.payee_did)).id;
      const funded = await adjustAccount(transaction, payer.id, opening.funding.change);
      // The UPDATE's guard refused: a concurrent request spent the balance since it was read.
      if (!funded) throw new AppError(opening.funding.refusal);
      // Counted after the payer's row is locked, so concurrent opens cannot pass the cap together.
      requireRoomForChannel(
        await transaction.paymentChannel.count({ where: { payerAccountId: payer.id, status: 'open' } }),
      );
      const channel = await createChannel(transaction, {
        payerAccountId: payer.id,
        payerDid: caller.did,
        payeeAccountId,
        payeeDid: input.payee_did,
        deposit,
        expiresAt: opening.expiresAt,
      });
      await requireOpenAccount(transaction, payeeAccountId);
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
    const viewer = { did: caller.did, isOperator: isOperator(caller) };
    return encodeChannel(requireVisibleChannel(await findChannel(prisma, input.id), viewer).channel);
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
    return moveMoney(dependencies, call, async (db, pool) => {
      // One statement locks the row, applies the payment if the same rules accept it and answers
      // the row as it was (the hot path stays one round trip). The decision is made here, on that
      // row and with the same clock; the statement's WHERE clause only keeps it atomic. Without an
      // Idempotency-Key there is no transaction, and it runs on the pool as a named statement.
      const outcome = await applyPayment(pool ?? db, {
        channelId: input.id,
        payerDid: caller.did,
        ...payment,
        signature: input.signature,
        requestId: context.requestId,
        now,
      });
      let after: ReturnType<typeof decideChannelPayment>;
      try {
        after = decideChannelPayment(outcome?.before ?? null, caller.did, payment, now);
      } catch (refusal) {
        assert(!outcome?.accepted, 'the statement accepted a payment the rules refuse');
        throw refusal;
      }
      assert(outcome?.accepted, 'the statement refused a payment the rules accept');
      return {
        transfers: [],
        response: encodeChannel({ ...outcome.before, ...after }),
        afterCommit: () => dependencies.metrics.channelPayments.inc(),
      };
    });
  });

  const close = endpoint(paymentEndpoints.closeChannel, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:write');
    const call = { context, caller, endpoint: paymentEndpoints.closeChannel, input };
    return moveMoney(dependencies, call, async (transaction) => {
      const channel = await lockChannel(transaction, input.id);
      const now = new Date();
      const closer = { did: caller.did, isOperator: isOperator(caller) };
      const { channel: open, role, settlement } = decideChannelClose(channel, closer, now);
      const { closed, transfers } = await closeAndSettle(transaction, {
        channel: open,
        settlement,
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
