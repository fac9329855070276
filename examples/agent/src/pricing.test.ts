import { describe, expect, it } from 'vitest';
import { bidPrice } from './pricing.js';

const terms = { max_price: 10_000_000, reserve_price: null, timeout_seconds: 30 };
const rule = { cost: 2_000_000, firstPriceMarkup: 0.25 };

describe('the pricing rule', () => {
  it('when the auction pays the truthful second price, then it bids its true cost', () => {
    expect(bidPrice({ ...terms, type: 'second_price' }, rule)).toBe(2_000_000);
  });

  it('when it is paid its own bid, then it asks its cost plus the markup share of the room up to max_price', () => {
    expect(bidPrice({ ...terms, type: 'first_price' }, rule)).toBe(4_000_000);
    expect(bidPrice({ ...terms, type: 'first_price' }, { ...rule, firstPriceMarkup: 5 })).toBe(10_000_000);
  });

  it('when there is a reserve, then never below it; when max_price is below its cost, then no bid', () => {
    expect(bidPrice({ ...terms, type: 'reserve', reserve_price: 3_000_000 }, rule)).toBe(3_000_000);
    expect(bidPrice({ ...terms, type: 'second_price', max_price: 1_999_999 }, rule)).toBeUndefined();
  });
});
