import { describe, expect, it } from 'vitest';
import { safeAmountMax, toJsonAmount, toMicro } from './money.js';

describe('money', () => {
  it('when the largest safe amount is read, then it is 2^53 - 1', () => {
    expect(safeAmountMax).toBe(9_007_199_254_740_991n);
  });

  it('when a safe JSON integer becomes micro-credits, then the bigint has the same value', () => {
    expect(toMicro(0)).toBe(0n);
    expect(toMicro(1_500_000)).toBe(1_500_000n);
    expect(toMicro(Number.MAX_SAFE_INTEGER)).toBe(safeAmountMax);
  });

  it('when a fraction or an unsafe integer reaches toMicro, then it throws as a broken invariant', () => {
    expect(() => toMicro(1.5)).toThrow(/safe integers/);
    expect(() => toMicro(Number.MAX_SAFE_INTEGER + 1)).toThrow(/safe integers/);
    expect(() => toMicro(Number.NaN)).toThrow(/safe integers/);
  });

  it('when micro-credits within ±(2^53 - 1) become JSON, then the number is exact', () => {
    expect(toJsonAmount(0n)).toBe(0);
    expect(toJsonAmount(-250n)).toBe(-250);
    expect(toJsonAmount(safeAmountMax)).toBe(Number.MAX_SAFE_INTEGER);
    expect(toJsonAmount(-safeAmountMax)).toBe(-Number.MAX_SAFE_INTEGER);
  });

  it('when micro-credits beyond ±(2^53 - 1) become JSON, then it throws instead of rounding', () => {
    expect(() => toJsonAmount(safeAmountMax + 1n)).toThrow(/exceeds 2\^53 - 1/);
    expect(() => toJsonAmount(-safeAmountMax - 1n)).toThrow(/exceeds 2\^53 - 1/);
  });
});
