import type { TransferKind } from '@zerostate/contracts';
import { uuidV7 } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import type { BalanceChange, Balances } from '../domain/balances.js';
import { safeAmountMax } from '../domain/money.js';
import type { PaymentPrisma, Transaction } from './prisma.js';

/** A place money sits: one of an account's books, or a channel's locked funds. */
export type Book =
  | { book: 'available' | 'held' | 'external'; accountId: string }
  | { book: 'channel'; channelId: string };

export const available = (accountId: string): Book => ({ book: 'available', accountId });
export const held = (accountId: string): Book => ({ book: 'held', accountId });
export const external = (accountId: string): Book => ({ book: 'external', accountId });
export const inChannel = (channelId: string): Book => ({ book: 'channel', channelId });

export interface AccountBalances extends Balances {
  id: string;
  ownerDid: string;
}

type Reader = PaymentPrisma | Transaction;

const accountColumns = {
  id: true,
  ownerDid: true,
  available: true,
  held: true,
  totalDeposited: true,
  totalWithdrawn: true,
} as const;

export function findAccount(db: Reader, ownerDid: string): Promise<AccountBalances | null> {
  return db.account.findUnique({ where: { ownerDid }, select: accountColumns });
}

/**
 * The account of a DID, made empty on first use; safe when two transactions race to make it.
 * An existing account is found with a plain read: the INSERT … ON CONFLICT would wait for any
 * transaction that has changed the row, which is how lock cycles between accounts start.
 */
export async function ensureAccount(transaction: Transaction, ownerDid: string): Promise<AccountBalances> {
  const existing = await findAccount(transaction, ownerDid);
  if (existing) return existing;
  await transaction.$executeRaw`
    INSERT INTO accounts (id, owner_did) VALUES (${uuidV7()}::uuid, ${ownerDid})
    ON CONFLICT (owner_did) DO NOTHING`;
  return transaction.account.findUniqueOrThrow({ where: { ownerDid }, select: accountColumns });
}

/**
 * Changes an account's balances in one conditional UPDATE. Whether a change is allowed is decided
 * by `balancesAfter` (domain/balances.ts) on the balances the caller read; the WHERE clause
 * repeats that rule only as a guard against races, so concurrent debits serialise on the row and
 * none can take a balance below zero (or any total above 2^53 - 1) after a stale check. Returns
 * the new balances, or undefined when the guard refused the change; the caller answers with the
 * change's refusal (`GuardedChange.refusal`).
 */
export async function adjustAccount(
  transaction: Transaction,
  accountId: string,
  change: BalanceChange,
): Promise<AccountBalances | undefined> {
  const availableChange = change.available ?? 0n;
  const heldChange = change.held ?? 0n;
  const deposited = change.deposited ?? 0n;
  const withdrawn = change.withdrawn ?? 0n;
  const rows = await transaction.$queryRaw<
    {
      id: string;
      owner_did: string;
      available: bigint;
      held: bigint;
      total_deposited: bigint;
      total_withdrawn: bigint;
    }[]
  >`
    UPDATE accounts
    SET available = available + ${availableChange}, held = held + ${heldChange},
        total_deposited = total_deposited + ${deposited}, total_withdrawn = total_withdrawn + ${withdrawn},
        updated_at = now()
    WHERE id = ${accountId}::uuid AND closed_at IS NULL
      AND available + ${availableChange} BETWEEN 0 AND ${safeAmountMax}
      AND held + ${heldChange} BETWEEN 0 AND ${safeAmountMax}
      AND total_deposited + ${deposited} <= ${safeAmountMax}
      AND total_withdrawn + ${withdrawn} <= ${safeAmountMax}
    RETURNING id::text, owner_did, available, held, total_deposited, total_withdrawn`;
  const row = rows[0];
  if (!row) {
    // Rare (a refused change): say ACCOUNT_CLOSED rather than the change's own refusal when the
    // account is closed. A close waits for this row's lock, so this reads its committed state.
    const closed = await transaction.$queryRaw<{ closed: boolean }[]>`
      SELECT closed_at IS NOT NULL AS closed FROM accounts WHERE id = ${accountId}::uuid`;
    if (closed[0]?.closed) throw new AppError('ACCOUNT_CLOSED');
    return undefined;
  }
  return {
    id: row.id,
    ownerDid: row.owner_did,
    available: BigInt(row.available),
    held: BigInt(row.held),
    totalDeposited: BigInt(row.total_deposited),
    totalWithdrawn: BigInt(row.total_withdrawn),
  };
}

/**
 * Refuses (ACCOUNT_CLOSED) to let money be promised to a closed account: taken after the row
 * that points at it is written, with FOR KEY SHARE, so it waits for a close in progress and a
 * close that starts later waits for this transaction and then sees what it wrote. KEY SHARE does
 * not conflict with balance updates, so it adds no lock cycle between accounts.
 */
export async function requireOpenAccount(transaction: Transaction, accountId: string): Promise<void> {
  const rows = await transaction.$queryRaw<{ closed: boolean }[]>`
    SELECT closed_at IS NOT NULL AS closed FROM accounts WHERE id = ${accountId}::uuid FOR KEY SHARE`;
  if (rows[0]?.closed) throw new AppError('ACCOUNT_CLOSED');
}

/**
 * Account changes in account-id order: every transaction that changes several accounts locks
 * their rows in this one order, so two of them over the same accounts cannot deadlock.
 */
export function inLockOrder<Step extends { accountId: string }>(steps: Step[]): Step[] {
  return [...steps].sort((left, right) =>
    left.accountId < right.accountId ? -1 : left.accountId > right.accountId ? 1 : 0,
  );
}

export interface TransferRecord {
  id: string;
  kind: TransferKind;
  amount: bigint;
  createdAt: Date;
}

function entryOf(place: Book, amount: bigint) {
  return place.book === 'channel'
    ? { book: place.book, channelId: place.channelId, amount }
    : { book: place.book, accountId: place.accountId, amount };
}

/**
 * Appends one transfer: a debit of `amount` on `from` and a credit on `to`, always as a pair.
 * One-time kinds (everything but deposits and withdrawals) are unique per reference in the
 * database, so a transfer that slipped past a state check still cannot be applied twice.
 */
export async function recordTransfer(
  transaction: Transaction,
  transfer: {
    kind: TransferKind;
    amount: bigint;
    from: Book;
    to: Book;
    referenceId?: string;
    requestId: string;
  },
): Promise<TransferRecord> {
  const created = await transaction.transfer.create({
    data: {
      id: uuidV7(),
      kind: transfer.kind,
      amount: transfer.amount,
      referenceId: transfer.referenceId ?? null,
      requestId: transfer.requestId.slice(0, 128),
      entries: {
        createMany: {
          data: [entryOf(transfer.from, -transfer.amount), entryOf(transfer.to, transfer.amount)],
        },
      },
    },
    select: { id: true, kind: true, amount: true, createdAt: true },
  });
  return { ...created, kind: created.kind as TransferKind };
}

/** What an account has locked in channels it pays from that are still open. */
export async function lockedInChannels(db: Reader, accountId: string): Promise<bigint> {
  const result = await db.paymentChannel.aggregate({
    where: { payerAccountId: accountId, status: 'open' },
    _sum: { locked: true },
  });
  return result._sum.locked ?? 0n;
}

/** One page of an account's entries on its available and held books, newest first. */
export async function listEntries(
  db: Reader,
  query: { accountId: string; limit: number; beforeId?: bigint },
) {
  const rows = await db.ledgerEntry.findMany({
    where: {
      accountId: query.accountId,
      book: { in: ['available', 'held'] },
      ...(query.beforeId === undefined ? {} : { id: { lt: query.beforeId } }),
    },
    orderBy: { id: 'desc' },
    take: query.limit + 1,
    select: {
      id: true,
      transferId: true,
      book: true,
      amount: true,
      createdAt: true,
      transfer: { select: { kind: true, referenceId: true } },
    },
  });
  const items = rows.slice(0, query.limit);
  return { items, hasMore: rows.length > query.limit };
}
