import { endpoint, type HandlerContext, type Registration } from '@zerostate/bus';
import { paymentEndpoints, paymentEvents } from '@zerostate/contracts';
import { enqueueEvent } from '@zerostate/database';
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
import { readableOwnerOf, requireCaller } from '../domain/access.js';
import { depositOf, requireChange, requireDebit, withdrawalOf } from '../domain/balances.js';
import { toMicro } from '../domain/money.js';
import { moveMoney, originOf, type PaymentDependencies } from './dependencies.js';
import { encodeBalance, encodeHistoryItem } from './encode.js';

/** A history cursor is a ledger entry id: a positive BIGINT. */
function isEntryCursor(cursor: string): boolean {
  return /^\d{1,19}$/.test(cursor) && BigInt(cursor) <= 9_223_372_036_854_775_807n;
}

/** deposit, withdraw, balance, history: a caller's own account. */
export function accountRegistrations(dependencies: PaymentDependencies): Registration[] {
  const { prisma } = dependencies;

  const deposit = endpoint(paymentEndpoints.deposit, (input, context) =>
    moveExternal(dependencies, context, input.amount, 'deposit'),
  );

  const withdraw = endpoint(paymentEndpoints.withdraw, (input, context) =>
    moveExternal(dependencies, context, input.amount, 'withdrawal'),
  );

  const balance = endpoint(paymentEndpoints.balance, async (input, context) => {
    const caller = requireCaller(context.principal, 'payments:read');
    const ownerDid = readableOwnerOf(caller, input.owner_did);
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
    const items = page.items.map(encodeHistoryItem);
    return { items, next_cursor: page.hasMore ? (items.at(-1)?.id ?? null) : null };
  });

  return [deposit, withdraw, balance, history];
}

/** How a deposit and a withdrawal differ; everything else about them is the same. */
const externalMoves = {
  deposit: {
    endpoint: paymentEndpoints.deposit,
    audit: 'payment.deposit',
    event: paymentEvents.depositCompleted,
    change: depositOf,
    legs: (accountId: string) => ({ from: external(accountId), to: available(accountId) }),
  },
  withdrawal: {
    endpoint: paymentEndpoints.withdraw,
    audit: 'payment.withdraw',
    event: paymentEvents.withdrawalCompleted,
    change: withdrawalOf,
    legs: (accountId: string) => ({ from: available(accountId), to: external(accountId) }),
  },
} as const;

/**
 * Money in from the world (deposit) or out to it (withdrawal): one conditional balance change,
 * one transfer between the account's `external` and `available` books, an audit row and an
 * event, in one transaction (idempotent with a key).
 */
function moveExternal(
  dependencies: PaymentDependencies,
  context: HandlerContext,
  amountJson: number,
  kind: keyof typeof externalMoves,
) {
  const move = externalMoves[kind];
  const caller = requireCaller(context.principal, 'payments:write');
  const amount = toMicro(amountJson);
  const call = { context, caller, endpoint: move.endpoint, input: { amount: amountJson } };
  const guarded = move.change(amount);
  return moveMoney(dependencies, call, async (transaction) => {
    // A deposit opens the account on first use; a withdrawal from no account has nothing to take.
    const account =
      kind === 'deposit'
        ? requireChange(await ensureAccount(transaction, caller.did), guarded)
        : requireDebit(await findAccount(transaction, caller.did), guarded);
    const accountId = account.id;
    const balances = await adjustAccount(transaction, accountId, guarded.change);
    // The UPDATE's guard refused: a concurrent request changed the balance since it was read.
    if (!balances) throw new AppError(guarded.refusal);
    const transfer = await recordTransfer(transaction, {
      kind,
      amount,
      ...move.legs(accountId),
      requestId: context.requestId,
    });
    await writeAudit(transaction, originOf(context), {
      action: move.audit,
      actorDid: caller.did,
      targetId: transfer.id,
      metadata: { amount: amountJson },
    });
    await enqueueEvent(transaction, move.event, {
      transfer_id: transfer.id,
      owner_did: caller.did,
      amount: amountJson,
    });
    const inChannels = await lockedInChannels(transaction, accountId);
    return {
      transfers: [kind],
      response: {
        transfer_id: transfer.id,
        kind: transfer.kind,
        amount: amountJson,
        created_at: transfer.createdAt.toISOString(),
        balance: encodeBalance(caller.did, balances, inChannels),
      },
    };
  });
}
