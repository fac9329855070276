import { endpoint, type Registration } from '@zerostate/bus';
import { paymentEndpoints, paymentEvents, type TransferKind } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { writeAudit } from '../db/audit.js';
import {
  adjustAccount,
  available,
  ensureAccount,
  external,
  findAccount,
  listEntries,
  lockedInChannels,
  recordTransfer,
} from '../db/ledger.js';
import { enqueueEvent } from '../db/outbox.js';
import { isOperator, requireCaller } from '../domain/access.js';
import { toJsonAmount, toMicro } from '../domain/money.js';
import { moveMoney, originOf, type PaymentDependencies } from './dependencies.js';
import { encodeBalance } from './encode.js';

/** A history cursor is a ledger entry id: a positive BIGINT. */
function isEntryCursor(cursor: string): boolean {
  return /^\d{1,19}$/.test(cursor) && BigInt(cursor) <= 9_223_372_036_854_775_807n;
}

/** deposit, withdraw, balance, history: a caller's own account. */
export function accountRegistrations(dependencies: PaymentDependencies): Registration[] {
  const { prisma } = dependencies;

  const deposit = endpoint(paymentEndpoints.deposit, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:write');
    const amount = toMicro(input.amount);
    const call = { context, caller, endpoint: paymentEndpoints.deposit, input };
    return moveMoney(dependencies, call, async (transaction) => {
      const accountId = await ensureAccount(transaction, caller.did);
      const balances = await adjustAccount(transaction, accountId, { available: amount, deposited: amount });
      if (!balances) throw new AppError('ACCOUNT_LIMIT_EXCEEDED');
      const transfer = await recordTransfer(transaction, {
        kind: 'deposit',
        amount,
        from: external(accountId),
        to: available(accountId),
        requestId: context.requestId,
      });
      await writeAudit(transaction, originOf(context), {
        action: 'payment.deposit',
        actorDid: caller.did,
        targetId: transfer.id,
        metadata: { amount: input.amount },
      });
      await enqueueEvent(transaction, paymentEvents.depositCompleted, {
        transfer_id: transfer.id,
        owner_did: caller.did,
        amount: input.amount,
      });
      const inChannels = await lockedInChannels(transaction, accountId);
      return {
        transfers: ['deposit'],
        response: {
          transfer_id: transfer.id,
          kind: transfer.kind,
          amount: input.amount,
          created_at: transfer.createdAt.toISOString(),
          balance: encodeBalance(caller.did, balances, inChannels),
        },
      };
    });
  });

  const withdraw = endpoint(paymentEndpoints.withdraw, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:write');
    const amount = toMicro(input.amount);
    const call = { context, caller, endpoint: paymentEndpoints.withdraw, input };
    return moveMoney(dependencies, call, async (transaction) => {
      const account = await findAccount(transaction, caller.did);
      const balances =
        account && (await adjustAccount(transaction, account.id, { available: -amount, withdrawn: amount }));
      if (!account || !balances) throw new AppError('INSUFFICIENT_FUNDS');
      const transfer = await recordTransfer(transaction, {
        kind: 'withdrawal',
        amount,
        from: available(account.id),
        to: external(account.id),
        requestId: context.requestId,
      });
      await writeAudit(transaction, originOf(context), {
        action: 'payment.withdraw',
        actorDid: caller.did,
        targetId: transfer.id,
        metadata: { amount: input.amount },
      });
      await enqueueEvent(transaction, paymentEvents.withdrawalCompleted, {
        transfer_id: transfer.id,
        owner_did: caller.did,
        amount: input.amount,
      });
      const inChannels = await lockedInChannels(transaction, account.id);
      return {
        transfers: ['withdrawal'],
        response: {
          transfer_id: transfer.id,
          kind: transfer.kind,
          amount: input.amount,
          created_at: transfer.createdAt.toISOString(),
          balance: encodeBalance(caller.did, balances, inChannels),
        },
      };
    });
  });

  const balance = endpoint(paymentEndpoints.balance, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:read');
    const ownerDid = input.owner_did ?? caller.did;
    // Someone else's balance is invisible, not forbidden: 404 says nothing about whether it exists.
    if (ownerDid !== caller.did && !isOperator(caller)) throw new AppError('NOT_FOUND');
    const account = await findAccount(prisma, ownerDid);
    const inChannels = account ? await lockedInChannels(prisma, account.id) : 0n;
    return encodeBalance(ownerDid, account, inChannels);
  });

  const history = endpoint(paymentEndpoints.history, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:read');
    if (input.cursor !== undefined && !isEntryCursor(input.cursor)) {
      throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.', { details: [{ path: 'cursor' }] });
    }
    const account = await findAccount(prisma, caller.did);
    if (!account) return { items: [], next_cursor: null };
    const page = await listEntries(prisma, {
      accountId: account.id,
      limit: input.limit,
      ...(input.cursor === undefined ? {} : { beforeId: BigInt(input.cursor) }),
    });
    const items = page.items.map((entry) => ({
      id: entry.id.toString(),
      transfer_id: entry.transferId,
      kind: entry.transfer.kind as TransferKind,
      book: entry.book as 'available' | 'held',
      amount: toJsonAmount(entry.amount),
      reference_id: entry.transfer.referenceId,
      created_at: entry.createdAt.toISOString(),
    }));
    return { items, next_cursor: page.hasMore ? (items.at(-1)?.id ?? null) : null };
  });

  return [deposit, withdraw, balance, history];
}
