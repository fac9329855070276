import assert from 'node:assert/strict';

/** The largest amount JSON carries exactly; the database refuses balances above it too. */
export const safeAmountMax = BigInt(Number.MAX_SAFE_INTEGER);

/** Micro-credits from a validated JSON integer. */
export function toMicro(amount: number): bigint {
  assert(Number.isSafeInteger(amount), 'amounts reach the domain as safe integers');
  return BigInt(amount);
}

/**
 * Micro-credits as a JSON integer. Balances are kept at or below 2^53 - 1 by CHECK constraints,
 * so a larger value here is a broken invariant, not bad input.
 */
export function toJsonAmount(amount: bigint): number {
  assert(amount >= -safeAmountMax && amount <= safeAmountMax, `amount ${amount} exceeds 2^53 - 1`);
  return Number(amount);
}
