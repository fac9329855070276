import { AppError } from '@zerostate/errors';
import { codeOf } from '@zerostate/testkit';
import { describe, expect, it } from 'vitest';
import {
  type Balances,
  balancesAfter,
  creditOf,
  depositOf,
  emptyBalances,
  requireChange,
  requireDebit,
  withdrawalOf,
} from './balances.js';
import { safeAmountMax } from './money.js';

const account: Balances = { available: 100n, held: 20n, totalDeposited: 150n, totalWithdrawn: 30n };

describe('balancesAfter', () => {
  it('when a change keeps every balance within 0 and 2^53 - 1, then the new balances come back', () => {
    expect(balancesAfter(account, { available: -40n, held: 40n })).toEqual({
      available: 60n,
      held: 60n,
      totalDeposited: 150n,
      totalWithdrawn: 30n,
    });
    expect(balancesAfter(account, { available: -100n, withdrawn: 100n })?.available).toBe(0n);
  });

  it('when a change would take available or held below zero, then it is not allowed', () => {
    expect(balancesAfter(account, { available: -101n })).toBeUndefined();
    expect(balancesAfter(account, { held: -21n, available: 21n })).toBeUndefined();
  });

  it('when a change would take a balance or a total above 2^53 - 1, then it is not allowed', () => {
    const full = { ...account, available: safeAmountMax - 1n };
    expect(balancesAfter(full, { available: 1n })?.available).toBe(safeAmountMax);
    expect(balancesAfter(full, { available: 2n })).toBeUndefined();
    expect(balancesAfter({ ...account, totalDeposited: safeAmountMax }, { deposited: 1n })).toBeUndefined();
    expect(balancesAfter({ ...account, totalWithdrawn: safeAmountMax }, { withdrawn: 1n })).toBeUndefined();
    expect(balancesAfter({ ...account, held: safeAmountMax }, { held: 1n })).toBeUndefined();
  });
});

describe('requireChange and requireDebit', () => {
  it('when the account can take the change, then the account comes back', () => {
    expect(requireChange(account, withdrawalOf(100n))).toBe(account);
    expect(requireDebit(account, withdrawalOf(100n))).toBe(account);
  });

  it('when the account cannot take the change, then the change names the refusal', () => {
    expect(() => requireChange(account, withdrawalOf(101n))).toThrow(AppError);
    expect(codeOf(() => requireDebit(account, withdrawalOf(101n)))).toBe('INSUFFICIENT_FUNDS');
    const full = { ...account, available: safeAmountMax, totalDeposited: safeAmountMax };
    expect(codeOf(() => requireChange(full, depositOf(1n)))).toBe('ACCOUNT_LIMIT_EXCEEDED');
    expect(codeOf(() => requireChange(full, creditOf(1n)))).toBe('ACCOUNT_LIMIT_EXCEEDED');
  });

  it('when there is no account yet, then it holds nothing: a credit is allowed and a debit is refused', () => {
    expect(requireChange(null, creditOf(5n))).toBeNull();
    expect(codeOf(() => requireDebit(null, withdrawalOf(1n)))).toBe('INSUFFICIENT_FUNDS');
    expect(balancesAfter(emptyBalances, depositOf(5n).change)?.totalDeposited).toBe(5n);
  });
});

describe('deposits, withdrawals and credits', () => {
  it('when money comes in or goes out, then available and the matching total move together', () => {
    expect(depositOf(7n)).toEqual({
      change: { available: 7n, deposited: 7n },
      refusal: 'ACCOUNT_LIMIT_EXCEEDED',
    });
    expect(withdrawalOf(7n)).toEqual({
      change: { available: -7n, withdrawn: 7n },
      refusal: 'INSUFFICIENT_FUNDS',
    });
    expect(creditOf(7n)).toEqual({ change: { available: 7n }, refusal: 'ACCOUNT_LIMIT_EXCEEDED' });
  });
});
