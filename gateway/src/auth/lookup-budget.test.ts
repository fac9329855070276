import { describe, expect, test } from 'vitest';
import { createLookupBudget } from './lookup-budget.js';

describe('when one address spends its lookup budget', () => {
  test('then the burst passes, the next is refused with a wait, and another address is unaffected', () => {
    const budget = createLookupBudget({ capacity: 3, refillPerMinute: 60 });
    expect([0, 1, 2].map(() => budget.take('a', 0))).toEqual([0, 0, 0]);
    expect(budget.take('a', 0)).toBe(1);
    expect(budget.take('b', 0)).toBe(0);
  });

  test('then tokens come back at the refill rate and never exceed the capacity', () => {
    const budget = createLookupBudget({ capacity: 2, refillPerMinute: 60 });
    budget.take('a', 0);
    budget.take('a', 0);
    expect(budget.take('a', 500)).toBeGreaterThan(0);
    expect(budget.take('a', 1_600)).toBe(0);
    expect([
      budget.take('c', 0),
      budget.take('c', 60_000),
      budget.take('c', 60_000),
      budget.take('c', 60_000),
    ]).toEqual([0, 0, 0, 1]);
  });

  test('then the table stays bounded, forgetting the least recently used address', () => {
    const budget = createLookupBudget({ capacity: 1, refillPerMinute: 1, maxAddresses: 2 });
    budget.take('a', 0);
    budget.take('b', 0);
    budget.take('c', 0);
    expect(budget.take('a', 0)).toBe(0);
    expect(budget.take('c', 0)).toBeGreaterThan(0);
  });
});
