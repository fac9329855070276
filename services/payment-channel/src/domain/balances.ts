import assert from 'node:assert/strict';
import { AppError, type ErrorCode } from '@zerostate/errors';
import { safeAmountMax } from './money.js';

/** What the rules need to know about an account's balances. */
export interface Balances {
  available: bigint;
  held: bigint;
  totalDeposited: bigint;
  totalWithdrawn: bigint;
}

/** Signed amounts added to an account's balances by one step of a transfer. */
export interface BalanceChange {
  available?: bigint;
  held?: bigint;
  deposited?: bigint;
  withdrawn?: bigint;
}

/**
 * A change to one account and the code a caller gets when the account cannot take it. Which code
 * that is depends on the operation, not on which bound was crossed: a withdrawal that cannot be
 * made is always INSUFFICIENT_FUNDS, a credit that cannot be taken always ACCOUNT_LIMIT_EXCEEDED.
 */
export interface GuardedChange {
  change: BalanceChange;
  refusal: ErrorCode;
}

/** An owner without an account yet holds nothing. */
export const emptyBalances: Balances = Object.freeze({
  available: 0n,
  held: 0n,
  totalDeposited: 0n,
  totalWithdrawn: 0n,
});

/**
 * The balances after a change, or undefined when the change is not allowed: no balance may go
 * below zero and none, totals included, above 2^53 - 1 (the largest amount JSON carries exactly).
 * `adjustAccount` (db/ledger.ts) guards the same rule in its UPDATE's WHERE clause, so a change
 * decided here on a read that a concurrent request has since made stale is still refused.
 */
export function balancesAfter(balances: Balances, change: BalanceChange): Balances | undefined {
  const after = {
    available: balances.available + (change.available ?? 0n),
    held: balances.held + (change.held ?? 0n),
    totalDeposited: balances.totalDeposited + (change.deposited ?? 0n),
    totalWithdrawn: balances.totalWithdrawn + (change.withdrawn ?? 0n),
  };
  const withinBounds = Object.values(after).every((amount) => amount >= 0n && amount <= safeAmountMax);
  return withinBounds ? after : undefined;
}

/**
 * The account, if it can take the change; otherwise the change's refusal. An account that does
 * not exist yet (null) holds nothing, so it can be credited but not debited.
 */
export function requireChange<Account extends Balances | null>(
  account: Account,
  guarded: GuardedChange,
): Account {
  if (!balancesAfter(account ?? emptyBalances, guarded.change)) throw new AppError(guarded.refusal);
  return account;
}

/** Like `requireChange`, for a debit: an account that can take it exists. */
export function requireDebit<Account extends Balances>(
  account: Account | null,
  guarded: GuardedChange,
): Account {
  const checked = requireChange(account, guarded);
  assert(checked, 'an account that does not exist cannot be debited');
  return checked;
}

/** Money in from the world: refused only by the limit an account may hold. */
export function depositOf(amount: bigint): GuardedChange {
  return { change: { available: amount, deposited: amount }, refusal: 'ACCOUNT_LIMIT_EXCEEDED' };
}

/** Money out to the world: refused when the available balance is too low. */
export function withdrawalOf(amount: bigint): GuardedChange {
  return { change: { available: -amount, withdrawn: amount }, refusal: 'INSUFFICIENT_FUNDS' };
}

/** Money paid into an account's available balance by a channel or an escrow. */
export function creditOf(amount: bigint): GuardedChange {
  return { change: { available: amount }, refusal: 'ACCOUNT_LIMIT_EXCEEDED' };
}
